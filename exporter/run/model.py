"""The run model: applies a trainer's events in order and keeps what they say about one run."""

from __future__ import annotations

from typing import Any

from exporter.events import (Checkpoint, ConfigValue, ErrorMessage, Eval, Event, Loss, Parameters, Progress, RunEnd,
                             RunStart, TokensPerIteration, TrainerError)
from exporter.formats import FormatReader
from exporter.run.bounds import check_count, check_eval, check_progress, check_run_end, check_setting
from exporter.run import estimate, fast_path, learning
from exporter.run.outlook import Outlook, outlook
from exporter.run.reason import crash_text, state_reason
from exporter.run.settings import Setting, TrainerSettings
from exporter.run.counters import Counters
from exporter.run.ending import Ending
from exporter.run.losses import Losses
from exporter.run.snapshot import RunSnapshot, eta_fields, progress_fields
from exporter.run.state import Signals, StallTimeouts, decide_state
from exporter.run.timing import WARMUP_ITERATIONS, IterationTiming


class RunModel:
    """The state of one training run, built from its log. Timestamps are Unix seconds; ``arrived``
    is ``None`` for lines read while backfilling an existing file."""

    def __init__(self, run: str, log_path: str = "", *, reader: FormatReader | None = None,
                 settings: TrainerSettings | None = None, timeouts: StallTimeouts = StallTimeouts()) -> None:
        self.run = run
        self.log_path = log_path
        self._reader = reader or FormatReader()
        self.settings = settings or TrainerSettings()
        self._timeouts = timeouts
        self.log_present = False
        self.log_problem: str | None = None  # why a log that exists cannot be read
        self.trainer_alive: bool | None = None  # whether the trainer's watched process runs (None: not watched)
        self.stopping = False  # an interrupt the user sent is stopping the trainer (told by the run wrapper)
        self._last_line_ts: float | None = None
        self._logged_tokens_per_iteration: int | None = None
        self.generation = 0  # trainings started from scratch in this log after the first one
        self._start_history()
        self.counts = Counters()
        self._outlook_after: int | None = None  # the lines read when the outlook was last worked out
        self._handlers = {
            Progress: self._on_progress, Loss: self._on_loss, Eval: self._on_eval,
            Checkpoint: self._on_checkpoint, Parameters: self._on_parameters,
            TokensPerIteration: self._on_tokens_per_iteration, ConfigValue: self._on_config,
            RunStart: self._on_run_start, TrainerError: self._on_error, RunEnd: self._on_run_end,
            ErrorMessage: self._on_error_message,
        }

    def _start_history(self) -> None:
        """What one training run builds up: its progress, timings and losses."""
        self._last: Progress | None = None
        self._last_arrived: float | None = None
        self._last_progress_ts: float | None = None
        self._segment_start: int | None = None
        self._new_segment = True
        self._max_from_log: int | None = None
        self.timing = IterationTiming()
        self.ending = Ending()
        self.losses, self.learning = Losses(), learning.LearningFeed()
        self._mfu: float | None = None
        self._tokens_per_second: float | None = None
        self._parameters: float | None = None

    # ---- input -------------------------------------------------------------------------------

    def feed_line(self, line: str, arrived: float | None) -> None:
        self.feed_lines([line], arrived)

    def feed_lines(self, lines: list[str], arrived: float | None) -> None:
        """Apply lines read together (``arrived`` is their arrival time, None in a backfill). A
        line that a parser or the model cannot take is ignored and counted, never lost together
        with its neighbours."""
        self.counts.lines_read += len(lines)
        if arrived is not None and lines:
            self._last_line_ts = arrived
        start = 0
        while self._reader.parse is None and start < len(lines):  # still detecting the format
            try:
                for event in self._reader.feed(lines[start]):
                    if event is None:
                        self.counts.lines_not_understood += 1
                    else:
                        self._handlers[type(event)](event, arrived)
            except Exception as exc:  # noqa: BLE001 - any one line's trouble stays with that line
                self.ignore(lines[start], exc)
            start += 1
        if start < len(lines):
            self.counts.lines_not_understood += fast_path.feed(
                self, lines[start:] if start else lines, arrived, self._reader.format_parse,
                self._reader.progress_line)

    def apply(self, event: Event, line: str, arrived: float | None) -> None:
        """Apply one line's event (``line`` names it when it is ignored)."""
        try:
            self._handlers[type(event)](event, arrived)
        except Exception as exc:  # noqa: BLE001
            self.ignore(line, exc)

    def progress_state(self) -> tuple[bool, int]:
        """For the fast path: whether its usual case applies now, and the last iteration."""
        last = self._last
        return last is not None and not self._new_segment and not self.timing.eval_pending, last.iteration if last else 0

    def settle(self, run: fast_path.ProgressRun) -> None:  # as _on_progress would, line by line
        self.timing.measure_run(self._last.iteration, run.iterations, run.seconds_each,
                                (self._segment_start or 0) + WARMUP_ITERATIONS)
        self._last, self._last_arrived = Progress(*run.fields), run.arrived
        self._last_progress_ts = run.arrived if run.arrived is not None else self._last_progress_ts
        self.ending.progress()
        self.losses.latest, self.losses.latest_finite, self._mfu = run.fields[1], True, run.fields[6]
        self._max_from_log = run.most if run.most is not None else self._max_from_log
        self._tokens_per_second = run.rate if run.rate is not None else self._tokens_per_second
        self.learning.trained(run.iterations, run.losses, run.grad_norms)

    def ignore(self, line: str, exc: Exception) -> None:
        self.counts.ignored(line, exc, self.log_path or self.run)

    def count_not_understood(self, lines: int = 1) -> None:  # over-long lines the follower dropped
        self.counts.lines_read += lines
        self.counts.lines_not_understood += lines

    def mark_activity(self, timestamp: float) -> None:
        """The log was written at ``timestamp`` by lines that carry no arrival stamp: the end of a
        backfill (the file's mtime) or a log that appeared empty."""
        self._last_line_ts = timestamp
        self.counts.backfill_ended(timestamp, self.timing.elapsed)
        if self._last is not None and self._last_arrived is None:
            self._last_progress_ts = timestamp

    # ---- event handlers ----------------------------------------------------------------------

    def _on_progress(self, p: Progress, arrived: float | None) -> None:
        p = check_progress(p)
        previous = self._last
        if previous is not None and not self._new_segment and p.iteration < previous.iteration:
            self.counts.restarts += 1  # iterations went back without a resume line
            self._new_segment = True
        if self._new_segment:
            self._segment_start = p.iteration
            self._new_segment = False
            self.timing.start_segment(p)
        elif p.iteration > previous.iteration:
            warm = p.iteration - self._segment_start < WARMUP_ITERATIONS
            self.timing.measure(previous, self._last_arrived, p, arrived, warm)
        self.timing.eval_pending = False
        if p.max_iterations is not None:
            self._max_from_log = p.max_iterations
        self._last, self._last_arrived = p, arrived
        self._last_progress_ts = arrived if arrived is not None else self._last_progress_ts
        self.ending.progress()
        self._record_loss(p.iteration, p.loss, p.grad_norm)
        self._mfu = p.mfu_ratio
        if p.tokens_per_second is not None:
            self._tokens_per_second = p.tokens_per_second

    def _on_loss(self, loss: Loss, arrived: float | None) -> None:
        self._record_loss(self._last.iteration if self._last else 0, loss.value, loss.grad_norm)

    def _record_loss(self, iteration: int, value: float | None, grad_norm: float | None) -> None:
        self.counts.nonfinite_losses += value is not None and not self.losses.training(value)
        self.learning.train(iteration, value, grad_norm)

    def _on_eval(self, e: Eval, arrived: float | None) -> None:
        check_eval(e, self.losses.evals.keys())
        self.counts.evals += 1
        self.timing.eval_seen(e.iteration if e.iteration is not None else (self._last.iteration if self._last else None))
        self.counts.nonfinite_losses += self.losses.evaluation(e.losses)
        self.learning.evaluation(self.timing.last_eval_iteration(), e.losses)

    def _on_checkpoint(self, c: Checkpoint, arrived: float | None) -> None:
        self.counts.checkpoint(c.path, arrived, self.timing.elapsed)

    def _on_parameters(self, p: Parameters, arrived: float | None) -> None:
        check_count(p)
        self._parameters = p.count

    def _on_tokens_per_iteration(self, t: TokensPerIteration, arrived: float | None) -> None:
        check_count(t)
        self._logged_tokens_per_iteration = t.tokens

    def _on_config(self, c: ConfigValue, arrived: float | None) -> None:
        check_setting(c.key, c.value)
        self.settings.from_log(c.key, c.value)

    def _on_run_start(self, r: RunStart, arrived: float | None) -> None:
        if r.resumed or self._last is not None:
            self.counts.restarts += 1
        if not r.resumed and self._last is not None:
            # a new training from scratch appended to the log: the old run's history no longer
            # holds (the counters carry on, as counters do)
            self.generation += 1
            self._start_history()
        self._new_segment = True
        self.ending = Ending()

    def _on_error(self, e: TrainerError, arrived: float | None) -> None:
        if self.ending.error(e.kind, self.stopping, crash_text(e.kind, e.message)):
            self.counts.errors[e.kind] = self.counts.errors.get(e.kind, 0) + 1

    def _on_error_message(self, e: ErrorMessage, arrived: float | None) -> None:
        self.ending.error_line(e.text)

    def _on_run_end(self, r: RunEnd, arrived: float | None) -> None:
        check_run_end(r)
        self.ending.ended = True
        if r.wall_seconds is not None:
            self.timing.elapsed = r.wall_seconds

    def trainer_ended(self, interrupted: bool = False, returncode: int | None = None) -> None:
        """The trainer's process is gone (see :meth:`Ending.trainer_ended`)."""
        ahead = self._outlook()[2]
        self.trainer_alive = self.stopping = False
        error = self.ending.trainer_ended(interrupted=interrupted, returncode=returncode,
                                          at_end=ahead.at_end or ahead.near_end, loss_finite=self.losses.latest_finite)
        if error is not None:
            self._on_error(error, None)

    # ---- derived view ------------------------------------------------------------------------

    @property
    def activity_unknown(self) -> bool:  # nothing says yet when the log was last written
        return self._last_line_ts is None

    @property
    def format_name(self) -> str:
        return self._reader.name or "unknown"

    def snapshot(self, now: float) -> RunSnapshot:
        iteration, max_iterations, ahead, tokens = self._outlook()
        # before the first progress line, the last line of any kind stands in for it
        last_progress = self._last_progress_ts if self._last is not None else self._last_line_ts
        silent = None if last_progress is None else now - last_progress
        state = decide_state(Signals(
            log_present=self.log_present and self.log_problem is None, started=self._last is not None,
            interrupted=self.ending.interrupted, crashed=self.ending.crashed or not self.losses.latest_finite,
            ended=self.ending.ended or ahead.at_end, near_end=ahead.near_end, silent_seconds=silent,
            timeout_seconds=ahead.timeout,
        ))
        eta = estimate.Eta(0.0, 0.0, 0.0) if state == "finished" and ahead.eta is not None else ahead.eta
        return RunSnapshot(
            run=self.run,
            format=self.format_name,
            log_path=self.log_path,
            log_problem=self.log_problem,
            trainer_alive=self.trainer_alive,
            state=state,
            reason=state_reason(state, crash=self.ending.crash, loss_finite=self.losses.latest_finite,
                                silent_seconds=silent, timeout_seconds=ahead.timeout, log_path=self.log_path,
                                log_problem=self.log_problem, iteration=iteration),
            **eta_fields(eta, last_progress),
            last_progress_timestamp=last_progress,
            progress_timeout_seconds=ahead.timeout,
            iteration_seconds=ahead.typical_iteration,
            eval_overhead_seconds=ahead.eval_spread[1] if ahead.eval_spread else None,
            eval_overhead_provisional=ahead.eval_provisional,
            eval_interval=ahead.eval_interval.value if ahead.eval_interval else None,
            evals_left=ahead.evals_left,
            sources={name: setting.source for name, setting in (("max_iterations", max_iterations),
                     ("eval_interval", ahead.eval_interval), ("tokens_per_iteration", tokens)) if setting is not None},
            trainer_config=self.settings.merged(),
            generation=self.generation,
            **progress_fields(iteration, max_iterations and max_iterations.value, tokens,
                              self._tokens_per_second, ahead.typical_iteration),
            **self._history(),
        )

    def _outlook(self) -> tuple[int | None, Setting | None, Outlook, Setting | None]:
        """The last iteration, the maximum, the :func:`outlook` (which drops the samples before a
        level shift) and the tokens per iteration, worked out again only once lines were read since:
        not per snapshot."""
        if self._outlook_after != self.counts.lines_read:
            self.settings.use_defaults(self._reader.defaults)
            iteration = self._last.iteration if self._last else None
            max_iterations = self.settings.max_iterations(self._max_from_log)
            ahead = outlook(self.timing, self.settings, iteration, max_iterations and max_iterations.value, self._timeouts)
            tokens = self.settings.tokens_per_iteration(self._logged_tokens_per_iteration)
            self._outlook_after, self._ahead = self.counts.lines_read, (iteration, max_iterations, ahead, tokens)
        return self._ahead

    def _history(self) -> dict[str, Any]:
        return {
            "loss": self.losses.latest,
            "loss_finite": self.losses.latest_finite,
            "eval_losses": dict(self.losses.evals),
            "best_val_loss": self.losses.best_val,
            "learning": self.learning.report(),
            "parameters": self._parameters,
            "mfu_ratio": self._mfu,
            **self.timing.fields(started=self._last is not None),
            **self.counts.figures(),
            "errors": dict(self.counts.errors),
            "lines_not_understood": self.counts.lines_not_understood + self._reader.held + self._reader.dropped,
            "log_recognised": self._reader.parse is not None or self._reader.preamble_seen,
        }
