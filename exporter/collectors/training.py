"""Training-log collector: progress, losses, timings, ETA and state of one run."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from exporter.trainer import nanogpt
from exporter.collectors.base import Collector, CollectorStats, gauge
from exporter.collectors.learning import learning_families
from exporter.run import STATES, RunSnapshot
from exporter.run.reason import lasting_reason
from exporter.run.text import as_text

# (metric, help, snapshot attribute, key of the value's source in snapshot.sources, or None) for the
# per-run gauges; None values are left out.
_GAUGES = (
    ("training_iteration", "Latest iteration seen.", "iteration", None),
    ("training_max_iterations", "Last iteration of the run; source: where that figure came from (flag, log, "
     "trainer_config, or default: the trainer's default, a guess).", "max_iterations", "max_iterations"),
    ("training_progress_ratio", "Iteration / max iterations.", "progress_ratio", None),
    ("training_loss", "Latest finite training loss.", "loss", None),
    ("training_best_val_loss", "Lowest validation loss so far.", "best_val_loss", None),
    ("training_iteration_duration_seconds", "Typical regular iteration time.", "iteration_seconds", None),
    ("training_eval_overhead_seconds", "Extra wall time an eval and its checkpoint add.", "eval_overhead_seconds", None),
    ("training_eval_interval_iterations", "Iterations between evals.", "eval_interval", None),
    ("training_tokens_per_iteration", "Tokens per iteration.", "tokens_per_iteration", None),
    ("training_tokens_per_second", "Training throughput in tokens per second.", "tokens_per_second", None),
    ("training_tokens_processed", "Tokens trained on so far.", "tokens_processed", None),
    ("training_tokens_planned", "Tokens the whole run will train on.", "tokens_planned", None),
    ("training_parameters", "Model parameters as the trainer prints them.", "parameters", None),
    ("training_eta_seconds", "Estimated time left from the last progress line.", "eta_seconds", None),
    ("training_expected_end_timestamp_seconds", "Unix time the run is expected to end.", "expected_end_timestamp", None),
    ("training_elapsed_seconds", "Estimated training wall time so far.", "elapsed_seconds", None),
    ("training_last_progress_timestamp_seconds", "Unix time of the last progress line.", "last_progress_timestamp", None),
    ("training_progress_timeout_seconds", "Time without a progress line that counts as a stall now.",
     "progress_timeout_seconds", None),
    ("training_last_checkpoint_timestamp_seconds", "Unix time of the last checkpoint save.",
     "last_checkpoint_timestamp", None),
)
_COUNTERS = (
    ("training_evals", "Evals seen.", "evals"),
    ("training_checkpoints", "Checkpoint saves seen.", "checkpoints"),
    ("training_restarts", "Resumes or restarts of the trainer within the log.", "restarts"),
    ("training_nonfinite_losses", "nan or inf losses seen.", "nonfinite_losses"),
    ("training_exporter_log_lines", "Log lines read.", "lines_read"),
    ("training_exporter_log_lines_not_understood", "Log lines no parser recognised.", "lines_not_understood"),
    ("training_exporter_log_lines_ignored", "Log lines ignored: values outside sane bounds, or a parser failed.",
     "lines_ignored"),
)


def nanogpt_flops_per_token(s: RunSnapshot) -> float | None:
    """nanoGPT's estimate_mfu FLOPs per token from the printed parameters and the model shape."""
    return nanogpt.flops_per_token(s.parameters, s.trainer_config)


class TrainingCollector(Collector):
    name = "training_log"

    def __init__(
        self,
        stats: CollectorStats,
        peak_flops: Callable[[], float | None] = lambda: None,
        flops_per_token: Callable[[RunSnapshot], float | None] = nanogpt_flops_per_token,
    ) -> None:
        super().__init__(stats)
        self._peak_flops = peak_flops
        self._flops_per_token = flops_per_token

    def scrape(self, s: RunSnapshot) -> tuple[bool, Iterable[Metric]]:
        run = [s.run]
        families: list[Metric] = []

        info = gauge("training_info", "Identity of the followed run.", ["run", "format", "log_path"],
                     [s.run, s.format, as_text(s.log_path)], 1)
        state = GaugeMetricFamily("training_state", "1 for the run's current state.", labels=["run", "state"])
        for name in STATES:
            state.add_metric([s.run, name], 1 if s.state == name else 0)
        families += [info, state]
        reason = lasting_reason(s.state, s.reason, s.progress_timeout_seconds)
        if reason is not None:
            families.append(gauge("training_state_reason_info", "Always 1: why the run is in its state, as text "
                                  "(a crash's error line, a stall's timeout, the log a run waits for).",
                                  ["run", "state", "reason"], [s.run, s.state, reason], 1))
        if s.log_problem is not None or s.state != "waiting":
            families.append(gauge("training_log_readable", "1 while the log can be read, 0 when it exists but "
                                  "cannot be (permissions, a directory); absent while it does not exist.",
                                  ["run"], run, 0 if s.log_problem else 1))
        if s.state == "waiting":
            return False, families

        for metric, help_text, attribute, source in _GAUGES:
            value = getattr(s, attribute)
            if value is not None and source is None:
                families.append(gauge(metric, help_text, ["run"], run, value))
            elif value is not None:
                families.append(gauge(metric, help_text, ["run", "source"], [s.run, s.sources.get(source, "")], value))
        for metric, help_text, attribute in _COUNTERS:
            family = CounterMetricFamily(metric, help_text, labels=["run"])
            family.add_metric(run, getattr(s, attribute))
            families.append(family)

        provisional = gauge("training_eval_overhead_provisional", "1 while the eval overhead is estimated, not measured.",
                            ["run"], run, 1 if s.eval_overhead_provisional else 0)
        eval_loss = GaugeMetricFamily("training_eval_loss", "Latest evaluation loss per split.", labels=["run", "split"])
        for split, loss in sorted(s.eval_losses.items()):
            eval_loss.add_metric([s.run, split], loss)
        errors = CounterMetricFamily("training_errors", "Crash markers in the log by kind.", labels=["run", "kind"])
        for kind, count in sorted(s.errors.items()):
            errors.add_metric([s.run, kind], count)
        eta_range = GaugeMetricFamily("training_eta_range_seconds", "Low and high bound of the ETA.", labels=["run", "bound"])
        if s.eta_low_seconds is not None:
            eta_range.add_metric([s.run, "low"], s.eta_low_seconds)
            eta_range.add_metric([s.run, "high"], s.eta_high_seconds)
        families += [provisional, eval_loss, errors, eta_range, *self._throughput(s)]
        families += learning_families(s.learning, s.run)
        return True, families

    def _throughput(self, s: RunSnapshot) -> list[Metric]:
        mfu = GaugeMetricFamily("training_mfu_ratio", "Model FLOPs utilisation, 0-1.", labels=["run", "basis"])
        if s.mfu_ratio is not None:
            mfu.add_metric([s.run, "trainer"], s.mfu_ratio)
        families: list[Metric] = [mfu]
        per_token = self._flops_per_token(s)
        if per_token and s.tokens_per_second and s.state == "running":
            achieved = per_token * s.tokens_per_second
            flops = GaugeMetricFamily("training_flops_per_second", "Achieved model FLOP/s.", labels=["run"])
            flops.add_metric([s.run], achieved)
            families.append(flops)
            peak = self._peak_flops()
            if peak:
                mfu.add_metric([s.run, "gpu_peak"], achieved / peak)
        return families
