"""The run model: applies a trainer's events in order and derives progress, timings and state."""

from __future__ import annotations

import math
from collections import deque
from pathlib import Path
from typing import Any

from exporter import estimate
from exporter.config import Config
from exporter.events import (
    Checkpoint,
    ConfigValue,
    Eval,
    Loss,
    Parameters,
    Progress,
    RunEnd,
    RunStart,
    TokensPerIteration,
    TrainerError,
)
from exporter.formats import FormatReader
from exporter.snapshot import RunSnapshot
from exporter.trainer_config import NANOGPT_DEFAULTS, read_config_file

# The first iterations after a start or resume include compilation and warm-up.
WARMUP_ITERATIONS = 5
ITERATION_WINDOW = 101
EVAL_WINDOW = 20


class RunModel:
    """The state of one training run, built from its log.

    ``user_settings`` are trainer settings from ``--trainer-config`` (below what the log says);
    ``user_overrides`` win over everything. Timestamps are Unix seconds; ``arrived`` is ``None``
    for lines read while backfilling an existing file.
    """

    def __init__(
        self,
        config: Config,
        run: str,
        log_path: str = "",
        user_settings: dict[str, Any] | None = None,
        user_overrides: dict[str, Any] | None = None,
    ) -> None:
        self._config = config
        self.run = run
        self.log_path = log_path
        self._reader = FormatReader.for_config(config)
        self._file_settings = dict(user_settings or {})
        self._overrides = dict(user_overrides or {})
        self._log_settings: dict[str, Any] = {}
        self.log_present = False
        self._last_line_ts: float | None = None

        self._logged_tokens_per_iteration: int | None = None
        self.generation = 0  # trainings started from scratch in this log after the first one
        self._start_history()

        self._evals = 0
        self._checkpoints = 0
        self._last_checkpoint_ts: float | None = None
        self._restarts = 0
        self._nonfinite = 0
        self._errors = {"oom": 0, "traceback": 0}
        self._lines = 0
        self._not_understood = 0

        self._handlers = {
            Progress: self._on_progress,
            Loss: self._on_loss,
            Eval: self._on_eval,
            Checkpoint: self._on_checkpoint,
            Parameters: self._on_parameters,
            TokensPerIteration: self._on_tokens_per_iteration,
            ConfigValue: self._on_config,
            RunStart: self._on_run_start,
            TrainerError: self._on_error,
            RunEnd: self._on_run_end,
        }

    def _start_history(self) -> None:
        """What one training run builds up: its progress, timings and losses."""
        self._last: Progress | None = None
        self._last_arrived: float | None = None
        self._last_progress_ts: float | None = None
        self._segment_start: int | None = None
        self._new_segment = True
        self._max_from_log: int | None = None
        self._samples: deque[float] = deque(maxlen=ITERATION_WINDOW)
        self._eval_overheads: deque[float] = deque(maxlen=EVAL_WINDOW)
        self._line_gaps: deque[int] = deque(maxlen=ITERATION_WINDOW)
        self._eval_iterations: deque[int] = deque(maxlen=8)
        self._eval_since_progress = False
        self._elapsed = 0.0
        self._crashed = False
        self._ended = False
        self._loss: float | None = None
        self._loss_finite = True
        self._mfu: float | None = None
        self._tokens_per_second: float | None = None
        self._eval_losses: dict[str, float] = {}
        self._best_val: float | None = None
        self._parameters: float | None = None

    @classmethod
    def from_config(cls, config: Config) -> RunModel:
        """The model for ``config``'s log, with ``--trainer-config`` and ``--override`` applied."""
        log_path = config.log or ""
        run = config.run or Path(log_path).stem or "train"
        file_settings = read_config_file(config.trainer_config) if config.trainer_config else {}
        return cls(config, run, log_path, file_settings, config.overrides)

    # ---- input -------------------------------------------------------------------------------

    def feed_line(self, line: str, arrived: float | None) -> None:
        self.feed_lines([line], arrived)

    def feed_lines(self, lines: list[str], arrived: float | None) -> None:
        """Apply lines read together (``arrived`` is their arrival time, None in a backfill)."""
        self._lines += len(lines)
        if arrived is not None and lines:
            self._last_line_ts = arrived
        handlers = self._handlers
        not_understood = 0
        start = 0
        while self._reader.parse is None and start < len(lines):  # still detecting the format
            for event in self._reader.feed(lines[start]):
                if event is None:
                    not_understood += 1
                else:
                    handlers[type(event)](event, arrived)
            start += 1
        parse = self._reader.parse
        for line in lines[start:] if start else lines:  # the hot loop of a backfill
            event = parse(line)
            if event is None:
                not_understood += 1
            else:
                handlers[type(event)](event, arrived)
        self._not_understood += not_understood

    def count_not_understood(self, lines: int = 1) -> None:
        """Lines the follower dropped before parsing (over-long lines)."""
        self._lines += lines
        self._not_understood += lines

    def mark_activity(self, timestamp: float) -> None:
        """The log was written at ``timestamp`` by lines that carry no arrival stamp: the end of a
        backfill (the file's mtime) or a log that appeared empty."""
        self._last_line_ts = timestamp
        if self._last is not None and self._last_arrived is None:
            self._last_progress_ts = timestamp

    # ---- event handlers ----------------------------------------------------------------------

    def _on_progress(self, p: Progress, arrived: float | None) -> None:
        previous = self._last
        if previous is not None and not self._new_segment and p.iteration < previous.iteration:
            self._restarts += 1  # iterations went back without a resume line
            self._new_segment = True
        if self._new_segment:
            self._segment_start = p.iteration
            self._new_segment = False
            previous = None
            self._elapsed += p.iteration_seconds or 0.0
        if p.max_iterations is not None:
            self._max_from_log = p.max_iterations
        if previous is not None and p.iteration > previous.iteration:
            self._measure(previous, p, arrived)
        self._last, self._last_arrived = p, arrived
        self._last_progress_ts = arrived if arrived is not None else self._last_progress_ts
        self._eval_since_progress = False
        self._crashed = False
        if p.loss is not None:
            self._record_loss(p.loss)
        self._mfu = p.mfu_ratio
        if p.tokens_per_second is not None:
            self._tokens_per_second = p.tokens_per_second

    def _measure(self, previous: Progress, p: Progress, arrived: float | None) -> None:
        """Timing samples from two consecutive progress lines of one segment."""
        steps = p.iteration - previous.iteration
        self._line_gaps.append(steps)
        warm = p.iteration - self._segment_start < WARMUP_ITERATIONS
        eval_here = self._eval_since_progress
        if p.iteration_seconds is not None and not eval_here:  # the common case, kept short
            self._elapsed += p.iteration_seconds * steps
            if not warm:
                self._samples.append(p.iteration_seconds)
            return
        clock = None
        if p.elapsed_seconds is not None and previous.elapsed_seconds is not None:
            clock = p.elapsed_seconds - previous.elapsed_seconds
            if clock <= 0:
                clock = None  # the trainer's timer was reset
        wall = arrived - self._last_arrived if arrived is not None and self._last_arrived is not None else None

        # Does the trainer's own timing of this line carry the eval? nanoGPT's one-iteration time
        # does when the eval ran at that very iteration; a progress bar's clock spans everything.
        if p.iteration_seconds is not None:
            eval_in_own_time = p.includes_eval and self._last_eval_iteration() == p.iteration
        else:
            eval_in_own_time = p.includes_eval and clock is not None
        if eval_here and eval_in_own_time:
            span, iterations = (p.iteration_seconds, 1) if p.iteration_seconds is not None else (clock, steps)
            self._elapsed += span
            if not warm and self._samples:
                typical = estimate.percentile(self._samples, 0.5)
                self._eval_overheads.append(max(span - iterations * typical, 0.0))
            return
        if p.iteration_seconds is not None:
            self._elapsed += p.iteration_seconds * steps
            if not warm:
                self._samples.append(p.iteration_seconds)
        elif clock is not None:
            self._elapsed += clock
            if not warm:
                self._samples.append(clock / steps)
        elif wall is not None and not eval_here:
            self._elapsed += wall
            if not warm:
                self._samples.append(wall / steps)

        if eval_here and wall is not None:
            # the eval's cost is outside the trainer's timing of this line: measure it from arrival
            # stamps (in a backfill it stays unmeasured, and the estimate provisional)
            if clock is not None:
                expected = clock
            elif p.iteration_seconds is not None and steps == 1:
                expected = p.iteration_seconds
            elif self._samples:
                expected = steps * estimate.percentile(self._samples, 0.5)
            else:
                return
            overhead = max(wall - expected, 0.0)
            self._elapsed += overhead if p.iteration_seconds is not None or clock is not None else wall
            if not warm:
                self._eval_overheads.append(overhead)

    def _on_loss(self, loss: Loss, arrived: float | None) -> None:
        self._record_loss(loss.value)

    def _record_loss(self, value: float) -> None:
        self._loss_finite = math.isfinite(value)
        if self._loss_finite:
            self._loss = value
        else:
            self._nonfinite += 1

    def _on_eval(self, e: Eval, arrived: float | None) -> None:
        self._evals += 1
        self._eval_since_progress = True
        iteration = e.iteration if e.iteration is not None else (self._last.iteration if self._last else None)
        if iteration is not None and (not self._eval_iterations or self._eval_iterations[-1] != iteration):
            self._eval_iterations.append(iteration)
        for split, loss in e.losses.items():
            if not math.isfinite(loss):
                self._nonfinite += 1
                continue
            self._eval_losses[split] = loss
            if split == "val" and (self._best_val is None or loss < self._best_val):
                self._best_val = loss

    def _on_checkpoint(self, c: Checkpoint, arrived: float | None) -> None:
        self._checkpoints += 1
        if arrived is not None:
            self._last_checkpoint_ts = arrived

    def _on_parameters(self, p: Parameters, arrived: float | None) -> None:
        self._parameters = p.count

    def _on_tokens_per_iteration(self, t: TokensPerIteration, arrived: float | None) -> None:
        self._logged_tokens_per_iteration = t.tokens

    def _on_config(self, c: ConfigValue, arrived: float | None) -> None:
        self._log_settings[c.key] = c.value

    def _on_run_start(self, r: RunStart, arrived: float | None) -> None:
        if r.resumed or self._last is not None:
            self._restarts += 1
        if not r.resumed and self._last is not None:
            # a new training from scratch appended to the log: the old run's history no longer
            # holds (the counters carry on, as counters do)
            self.generation += 1
            self._start_history()
        self._new_segment = True
        self._crashed = False
        self._ended = False

    def _on_error(self, e: TrainerError, arrived: float | None) -> None:
        self._errors[e.kind] = self._errors.get(e.kind, 0) + 1
        self._crashed = True

    def _on_run_end(self, r: RunEnd, arrived: float | None) -> None:
        self._ended = True
        if r.wall_seconds is not None:
            self._elapsed = r.wall_seconds

    # ---- derived view ------------------------------------------------------------------------

    @property
    def activity_unknown(self) -> bool:
        """True while nothing says when the log was last written."""
        return self._last_line_ts is None

    @property
    def format_name(self) -> str:
        return self._reader.name or "unknown"

    def settings(self) -> dict[str, Any]:
        """Trainer settings: nanoGPT defaults (nanoGPT logs only) < --trainer-config < log < overrides."""
        base = NANOGPT_DEFAULTS if self._reader.name == "nanogpt" else {}
        return {**base, **self._file_settings, **self._log_settings, **self._overrides}

    def _max_iterations(self, settings: dict[str, Any]) -> int | None:
        if self._config.max_iters is not None:
            return self._config.max_iters
        if "max_iters" in self._overrides:
            return int(self._overrides["max_iters"])
        if self._max_from_log is not None:
            return self._max_from_log
        value = settings.get("max_iters")
        return int(value) if isinstance(value, (int, float)) and value > 0 else None

    def _eval_interval(self, settings: dict[str, Any]) -> int | None:
        """A setting the user or the log gave, else what the evals seen so far show, else the
        trainer's default."""
        given = {**self._file_settings, **self._log_settings, **self._overrides}.get("eval_interval")
        default = settings.get("eval_interval")
        for value in (given, self._observed_eval_interval(), default):
            if isinstance(value, (int, float)) and value > 0:
                return int(value)
        return None

    def _observed_eval_interval(self) -> int | None:
        seen = list(self._eval_iterations)
        gaps = [b - a for a, b in zip(seen, seen[1:]) if b > a]
        if gaps:
            # the most common gap: a final eval at the last step makes one short gap
            return max(set(gaps), key=lambda gap: (gaps.count(gap), gap))
        return seen[0] if len(seen) == 1 and seen[0] > 0 else None

    def _last_eval_iteration(self) -> int | None:
        return self._eval_iterations[-1] if self._eval_iterations else None

    def _tokens_per_iteration(self, settings: dict[str, Any]) -> int | None:
        if self._logged_tokens_per_iteration is not None:
            return self._logged_tokens_per_iteration
        try:
            return int(settings["batch_size"] * settings["block_size"] * settings["gradient_accumulation_steps"])
        except (KeyError, TypeError):
            return None

    def _eval_spread(self, settings: dict[str, Any], typical: float | None) -> tuple[tuple[float, float, float] | None, bool]:
        if self._eval_overheads:
            return estimate.spread(self._eval_overheads), False
        eval_iters = settings.get("eval_iters")
        if typical is None or not isinstance(eval_iters, (int, float)):
            return None, True
        grad_accum = settings.get("gradient_accumulation_steps", 1)
        guess = estimate.provisional_eval_seconds(typical, int(eval_iters), int(grad_accum or 1))
        return estimate.provisional_spread(guess), True

    def _state(self, now: float, iteration: int | None, max_iterations: int | None, timeout: float,
               last_progress: float | None) -> str:
        if not self.log_present:
            return "waiting"
        if self._crashed or not self._loss_finite:
            return "crashed"
        if self._ended or (iteration is not None and max_iterations is not None and iteration >= max_iterations):
            return "finished"
        if last_progress is not None and now - last_progress > timeout:
            return "stalled"
        return "starting" if self._last is None else "running"

    def snapshot(self, now: float) -> RunSnapshot:
        settings = self.settings()
        iteration = self._last.iteration if self._last else None
        max_iterations = self._max_iterations(settings)
        eval_interval = self._eval_interval(settings)
        iteration_spread = estimate.spread(self._samples) if self._samples else None
        typical = iteration_spread[1] if iteration_spread else None
        eval_spread, provisional = self._eval_spread(settings, typical)
        tokens_per_iteration = self._tokens_per_iteration(settings)

        evals_left = eta = None
        if iteration is not None and max_iterations is not None:
            evals_left = estimate.evals_between(iteration, max_iterations, eval_interval)
            if eval_interval and iteration % eval_interval == 0 and self._last_eval_iteration() != iteration:
                evals_left += 1  # the trainer prints this step's eval after its progress line
            if iteration_spread:
                eta = estimate.eta(
                    max_iterations - iteration, iteration_spread, evals_left, eval_spread or (0.0, 0.0, 0.0)
                )

        minimum = self._config.min_progress_timeout_seconds
        if typical is None:
            timeout = max(minimum, self._config.startup_timeout_seconds)
        else:
            steps_per_line = estimate.percentile(self._line_gaps, 0.5) if self._line_gaps else 1
            eval_due = 0.0
            if eval_spread and iteration is not None and (
                eval_interval is None
                or estimate.evals_between(iteration, iteration + math.ceil(steps_per_line), eval_interval)
            ):
                eval_due = eval_spread[2]
            timeout = estimate.progress_timeout(steps_per_line * typical, eval_due, minimum)

        # before the first progress line, the last line of any kind stands in for it
        last_progress = self._last_progress_ts if self._last is not None else self._last_line_ts
        state = self._state(now, iteration, max_iterations, timeout, last_progress)
        if state == "finished" and eta is not None:
            eta = estimate.Eta(0.0, 0.0, 0.0)
        tokens_per_second = self._tokens_per_second
        if tokens_per_second is None and tokens_per_iteration and typical:
            tokens_per_second = tokens_per_iteration / typical

        return RunSnapshot(
            run=self.run,
            format=self.format_name,
            log_path=self.log_path,
            state=state,
            iteration=iteration,
            max_iterations=max_iterations,
            progress_ratio=(
                min(iteration / max_iterations, 1.0) if iteration is not None and max_iterations else None
            ),
            loss=self._loss,
            eval_losses=dict(self._eval_losses),
            best_val_loss=self._best_val,
            iteration_seconds=typical,
            eval_overhead_seconds=eval_spread[1] if eval_spread else None,
            eval_overhead_provisional=provisional,
            eval_interval=eval_interval,
            evals_left=evals_left,
            tokens_per_iteration=tokens_per_iteration,
            tokens_per_second=tokens_per_second,
            tokens_processed=(
                iteration * tokens_per_iteration if iteration is not None and tokens_per_iteration else None
            ),
            tokens_planned=(
                max_iterations * tokens_per_iteration if max_iterations and tokens_per_iteration else None
            ),
            parameters=self._parameters,
            mfu_ratio=self._mfu,
            eta_seconds=eta.seconds if eta else None,
            eta_low_seconds=eta.low if eta else None,
            eta_high_seconds=eta.high if eta else None,
            expected_end_timestamp=last_progress + eta.seconds if eta and last_progress is not None else None,
            elapsed_seconds=self._elapsed if self._last is not None else None,
            last_progress_timestamp=last_progress,
            progress_timeout_seconds=timeout,
            evals=self._evals,
            checkpoints=self._checkpoints,
            last_checkpoint_timestamp=self._last_checkpoint_ts,
            restarts=self._restarts,
            nonfinite_losses=self._nonfinite,
            errors=dict(self._errors),
            lines_read=self._lines,
            lines_not_understood=self._not_understood,
            trainer_config=settings,
            generation=self.generation,
        )
