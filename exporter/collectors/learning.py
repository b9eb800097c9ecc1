"""The health detectors' families of one run (:class:`~exporter.health.LearningHealth`): loss and
gradient-norm spikes, the loss trend, overfitting. Added to the training collector's."""

from __future__ import annotations

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from exporter.collectors.base import gauge
from exporter.health import LearningHealth, SpikeReport
from exporter.health.report import RISING, STUCK

# (spikes, alarms, last spike's iteration, its ratio, baseline) of each series, and what it is
_SERIES = {
    "loss": ("training_loss_spikes", "training_loss_spike_alarms", "training_loss_last_spike_iteration",
             "training_loss_last_spike_ratio", "training_loss_baseline", "training loss"),
    "grad_norm": ("training_grad_norm_spikes", "training_grad_norm_spike_alarms",
                  "training_grad_norm_last_spike_iteration", "training_grad_norm_last_spike_ratio",
                  "training_grad_norm_baseline", "gradient norm"),
}


def _spike_families(series: str, report: SpikeReport, run: str) -> list[Metric]:
    spikes_name, alarms_name, iteration_name, ratio_name, baseline_name, what = _SERIES[series]
    spikes = CounterMetricFamily(spikes_name, f"Spikes of the {what}.",
                                 labels=["run"])
    spikes.add_metric([run], report.spikes)
    alarms = CounterMetricFamily(alarms_name, f"Spikes of the {what} that did not come back or repeated.",
                                 labels=["run", "reason"])
    for reason, count in report.alarms:
        alarms.add_metric([run, reason], count)
    families: list[Metric] = [spikes, alarms]
    if report.last is not None:
        families += [gauge(iteration_name, f"Iteration of the latest {what} spike.", ["run"], [run],
                           report.last.iteration),
                     gauge(ratio_name, f"Latest {what} spike over its baseline.",
                           ["run"], [run], report.last.ratio)]
    if report.baseline is not None:
        families.append(gauge(baseline_name, f"Rolling median of the {what}.",
                              ["run"], [run], report.baseline))
    return families


def learning_families(h: LearningHealth, run: str) -> list[Metric]:
    families = _spike_families("loss", h.loss, run)
    if h.grad_norm is not None:
        families += _spike_families("grad_norm", h.grad_norm, run)
    if h.latest_grad_norm is not None:
        families.append(gauge("training_grad_norm", "Latest finite gradient norm.", ["run"], [run], h.latest_grad_norm))
    diverging = GaugeMetricFamily("training_loss_diverging", "1 while the loss diverges, by reason.", labels=["run", "reason"])
    for reason in (RISING, STUCK):
        diverging.add_metric([run, reason], 1 if h.trend is not None and h.trend.reason == reason else 0)
    families.append(diverging)
    if (t := h.trend) is not None:
        labels, values = ["run", "source"], [run, t.source]
        families += [
            GaugeMetricFamily("training_loss_trend_ratio", "Loss change over its trend window.", labels=labels),
            GaugeMetricFamily("training_loss_trend_slope_per_iteration", "Loss slope over its trend window.", labels=labels),
            GaugeMetricFamily("training_loss_trend_window_iterations", "Loss trend window.",
                              labels=labels),
            GaugeMetricFamily("training_loss_above_best_ratio", "Loss level over its best, minus 1.",
                              labels=labels),
        ]
        for family, value in zip(families[-4:], (t.rise_ratio, t.slope_per_iteration, t.window_iterations,
                                                  t.above_best_ratio)):
            family.add_metric(values, value)
    if h.val_evals_since_best is not None:
        families.append(gauge("training_val_loss_worse_evals", "Evals in a row with a val loss worse than its best.", ["run"], [run], h.val_evals_since_best))
    return families
