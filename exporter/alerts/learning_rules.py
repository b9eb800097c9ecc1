"""The learning alerts of ``prometheus/rules/learning.yml``, evaluated on the exporter's own run
snapshot: the same conditions, and the same summary, description and fields as their annotations."""

from __future__ import annotations

from math import inf

from exporter.alerts.alert import Active
from exporter.alerts.history import Recent
from exporter.alerts.run_rules import ENDED, Spend, _alert
from exporter.health import SpikeReport
from exporter.health.report import NOT_RECOVERED, RISING
from exporter.run import RunSnapshot

SPIKE_WINDOW_SECONDS = 1800.0  # an alarm counter rose in the last 30 min
OVERFITTING_EVALS = 3

LOSS_ADVICE = ("Check first: the learning rate (too high, or too short a warm-up), fp16 overflow, a bad stretch of data "
               "(the same iterations each time?); resuming from the checkpoint before the spike with a lower learning "
               "rate or gradient clipping (grad_clip) usually helps.")
GRAD_NORM_ADVICE = ("Check first: the loss, which often follows; gradient clipping (grad_clip) and a lower learning "
                    "rate keep such spikes from becoming loss spikes.")


def _number(value: float | None, spec: str) -> str:
    """``value`` as Go's printf writes it in the rules' templates (+Inf), or unknown."""
    if value is None:
        return "unknown"
    return "+Inf" if value == inf else format(value, spec)


def _spike(s: RunSnapshot, recent: Recent, now: float, spend: Spend | None, series: str,
           report: SpikeReport | None) -> Active | None:
    if report is None or s.state in ENDED or not any(
            recent.rose_within(f"{series}:{reason}", SPIKE_WINDOW_SECONDS, now) for reason, _ in report.alarms):
        return None
    loss = series == "loss"
    what, name = ("training loss", "TrainingLossSpike") if loss else ("gradient norm", "TrainingGradNormSpike")
    kept_up = recent.rose_within(f"{series}:{NOT_RECOVERED}", SPIKE_WINDOW_SECONDS, now)
    last = report.last
    return _alert(
        s, spend, name,
        f"Run {s.run}: the {what} " + ("spiked and has not come back" if kept_up else "keeps spiking"),
        f"Run {s.run} has had {report.spikes} {'loss' if loss else 'gradient-norm'} spike(s); the latest began at "
        f"iteration {'unknown' if last is None else last.iteration} and reached "
        f"{_number(last and last.ratio, '.1f')}x its rolling median ({_number(report.baseline, '.4g')}). "
        + (LOSS_ADVICE if loss else GRAD_NORM_ADVICE))


def diverging(s: RunSnapshot, spend: Spend | None) -> Active | None:
    t = s.learning.trend
    if t is None or t.reason is None or s.state in ENDED:
        return None
    return _alert(
        s, spend, "TrainingDiverging",
        f"Run {s.run}: the loss is " + ("rising" if t.reason == RISING else "stuck far above its best"),
        f"The {'val' if t.source == 'val' else 'training'} loss of run {s.run} changed by {t.rise_ratio * 100:+.0f} % "
        f"over the last {t.window_iterations} iterations (slope {t.slope_per_iteration:+.3g} per iteration) and is "
        f"{t.above_best_ratio * 100:.0f} % above its best. The run is not learning: stop it rather than pay for the "
        "rest. Check first: the learning rate and its schedule, a resume from the wrong checkpoint or with a reset "
        "optimizer, the data (a shard repeated or corrupt); resume from the best checkpoint with a lower learning "
        "rate.")


def overfitting(s: RunSnapshot, spend: Spend | None) -> Active | None:
    worse = s.learning.val_evals_since_best
    if worse is None or worse < OVERFITTING_EVALS or s.state in ENDED:
        return None
    best = "" if s.best_val_loss is None else f"{s.best_val_loss:.4f}"
    return _alert(
        s, spend, "TrainingOverfitting", f"Run {s.run}: the val loss has been worse than its best for {worse} evals",
        f"The val loss of run {s.run} has been worse than its best ({best}) at the last {worse} evals in a row: the "
        "model may be overfitting. Check first: whether the training loss still falls meanwhile. The best checkpoint "
        "is the one to keep (nanoGPT saves only on a new best val loss unless always_save_checkpoint); more data, "
        "more dropout or fewer iterations help.")


def learning_alerts(s: RunSnapshot, recent: Recent, now: float, spend: Spend | None) -> list[Active]:
    """The learning alerts whose conditions hold at ``now``."""
    found = (_spike(s, recent, now, spend, "loss", s.learning.loss),
             _spike(s, recent, now, spend, "grad_norm", s.learning.grad_norm),
             diverging(s, spend), overfitting(s, spend))
    return [alert for alert in found if alert is not None]
