"""One GPU at one sampler pass, in base units; each field declares the metric it is exported as.

The field order is the order of the ``training_gpu_*`` families in a scrape (README order).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

GAUGE, COUNTER = "gauge", "counter"
_METRIC = "metric"


@dataclass(frozen=True)
class MetricSpec:
    """How a GpuReading field is exported. A dict-valued field has one sample per key, under
    the extra ``label``; a field that is None has no sample."""

    name: str
    kind: str  # GAUGE or COUNTER
    help: str
    label: str | None = None


def _metric(name: str, kind: str, help_text: str, label: str | None, default: Any) -> Any:
    metadata = {_METRIC: MetricSpec(name, kind, help_text, label)}
    if label is not None:
        return field(default_factory=dict, metadata=metadata)
    return field(default=default, metadata=metadata)


def gauge(name: str, help_text: str, *, label: str | None = None, default: Any = None) -> Any:
    return _metric(name, GAUGE, help_text, label, default)


def counter(name: str, help_text: str, *, label: str | None = None) -> Any:
    return _metric(name, COUNTER, help_text, label, None)


@dataclass(frozen=True)
class GpuReading:
    """One GPU at one sampler pass, in base units; ``None`` (or no key) where the GPU does not say."""

    index: int
    uuid: str
    name: str
    up: bool = gauge("training_gpu_up", "1 while NVML answers for this GPU, 0 when it is lost", default=True)
    power_watts: float | None = gauge("training_gpu_power_watts", "GPU power draw")
    power_instant_watts: float | None = gauge("training_gpu_power_instant_watts", "Instantaneous GPU power")
    power_average_watts: float | None = gauge(
        "training_gpu_power_average_watts", "NVML's 1-second average GPU power"
    )
    power_limit_watts: float | None = gauge("training_gpu_power_limit_watts", "Enforced GPU power limit")
    energy_joules_by_method: dict[str, float] = counter(
        "training_gpu_energy_joules_total",
        "GPU energy since the exporter started (method: NVML energy counter, or integrated sampled power)",
        label="method",
    )
    memory_used_bytes: int | None = gauge("training_gpu_memory_used_bytes", "GPU memory used")
    memory_free_bytes: int | None = gauge("training_gpu_memory_free_bytes", "GPU memory free")
    memory_total_bytes: int | None = gauge("training_gpu_memory_total_bytes", "GPU memory in total")
    oom_risk_ratio: float | None = gauge("training_gpu_oom_risk_ratio", "1 - free / total GPU memory")
    trainer_memory_used_bytes: int | None = gauge(
        "training_gpu_trainer_memory_used_bytes", "GPU memory used by the trainer's processes"
    )
    utilization_ratio: float | None = gauge("training_gpu_utilization_ratio", "GPU busy, 0-1")
    memory_utilization_ratio: float | None = gauge(
        "training_gpu_memory_utilization_ratio", "GPU memory controller busy, 0-1"
    )
    temperature_celsius: float | None = gauge("training_gpu_temperature_celsius", "GPU temperature")
    temperature_thresholds_celsius: dict[str, float] = gauge(
        "training_gpu_temperature_threshold_celsius", "GPU temperature thresholds", label="threshold"
    )
    clocks_hertz: dict[str, float] = gauge("training_gpu_clock_hertz", "Current GPU clocks", label="clock")
    clocks_max_hertz: dict[str, float] = gauge("training_gpu_clock_max_hertz", "Maximum GPU clocks", label="clock")
    clock_events_active: dict[str, bool] = gauge(
        "training_gpu_clock_event_active", "1 while a clock event reason (throttling cause) is active", label="reason"
    )
    throttled_seconds: dict[str, float] = counter(
        "training_gpu_throttled_seconds_total",
        "Cumulative time GPU clocks were held down, from NVML's violation counters",
        label="reason",
    )
    fan_speed_ratio: float | None = gauge("training_gpu_fan_speed_ratio", "GPU fan speed, 0-1")
    peak_flops: float | None = gauge(
        "training_gpu_peak_flops_per_second", "Dense bf16 tensor peak FLOP/s of this GPU model"
    )
    # the compute processes on the GPU at this pass, (pid, used bytes or None); None: not known
    processes: tuple[tuple[int, int | None], ...] | None = None

    @property
    def energy_joules(self) -> float | None:
        """Energy since the exporter started, whichever the method; None while there is none."""
        return next(iter(self.energy_joules_by_method.values()), None)

    @property
    def energy_method(self) -> str | None:
        """``"counter"`` (NVML's energy counter) or ``"integrated"`` (sampled power)."""
        return next(iter(self.energy_joules_by_method), None)


def metric_fields() -> tuple[tuple[str, MetricSpec], ...]:
    """``(field name, metric)`` of every exported GpuReading field, in declaration order."""
    return tuple((f.name, f.metadata[_METRIC]) for f in fields(GpuReading) if _METRIC in f.metadata)
