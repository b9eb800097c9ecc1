"""GPU collector: the telemetry's latest readings as ``training_gpu_*`` families (no NVML calls here)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from exporter.collectors.base import Collector, CollectorStats

if TYPE_CHECKING:
    from exporter.gpu_telemetry import GpuReading, GpuTelemetry

_GAUGE, _COUNTER = "gauge", "counter"

# (metric, type, help, GpuReading attribute, extra label for dict-valued attributes), in README order.
_FAMILIES: tuple[tuple[str, str, str, str, str | None], ...] = (
    ("training_gpu_power_watts", _GAUGE, "GPU power draw", "power_watts", None),
    ("training_gpu_power_instant_watts", _GAUGE, "Instantaneous GPU power", "power_instant_watts", None),
    ("training_gpu_power_average_watts", _GAUGE, "NVML's 1-second average GPU power", "power_average_watts", None),
    ("training_gpu_power_limit_watts", _GAUGE, "Enforced GPU power limit", "power_limit_watts", None),
    (
        "training_gpu_energy_joules", _COUNTER,
        "GPU energy since the exporter started (method: NVML energy counter, or integrated sampled power)",
        "energy_by_method", "method",
    ),
    ("training_gpu_memory_used_bytes", _GAUGE, "GPU memory used", "memory_used_bytes", None),
    ("training_gpu_memory_free_bytes", _GAUGE, "GPU memory free", "memory_free_bytes", None),
    ("training_gpu_memory_total_bytes", _GAUGE, "GPU memory in total", "memory_total_bytes", None),
    ("training_gpu_oom_risk_ratio", _GAUGE, "1 - free / total GPU memory", "oom_risk_ratio", None),
    (
        "training_gpu_trainer_memory_used_bytes", _GAUGE,
        "GPU memory used by the trainer's processes", "trainer_memory_used_bytes", None,
    ),
    ("training_gpu_utilization_ratio", _GAUGE, "GPU busy, 0-1", "utilization_ratio", None),
    (
        "training_gpu_memory_utilization_ratio", _GAUGE,
        "GPU memory controller busy, 0-1", "memory_utilization_ratio", None,
    ),
    ("training_gpu_temperature_celsius", _GAUGE, "GPU temperature", "temperature_celsius", None),
    (
        "training_gpu_temperature_threshold_celsius", _GAUGE,
        "GPU temperature thresholds", "temperature_thresholds_celsius", "threshold",
    ),
    ("training_gpu_clock_hertz", _GAUGE, "Current GPU clocks", "clocks_hertz", "clock"),
    ("training_gpu_clock_max_hertz", _GAUGE, "Maximum GPU clocks", "clocks_max_hertz", "clock"),
    (
        "training_gpu_clock_event_active", _GAUGE,
        "1 while a clock event reason (throttling cause) is active", "clock_events_active", "reason",
    ),
    (
        "training_gpu_throttled_seconds", _COUNTER,
        "Cumulative time GPU clocks were held down, from NVML's violation counters",
        "throttled_seconds", "reason",
    ),
    ("training_gpu_fan_speed_ratio", _GAUGE, "GPU fan speed, 0-1", "fan_speed_ratio", None),
    ("training_gpu_peak_flops_per_second", _GAUGE, "Dense bf16 tensor peak FLOP/s of this GPU model", "peak_flops", None),
)

_LABELS = ["gpu", "uuid"]


def _family(name: str, kind: str, documentation: str, labels: list[str]) -> Metric:
    if kind == _COUNTER:
        return CounterMetricFamily(name, documentation, labels=labels)
    return GaugeMetricFamily(name, documentation, labels=labels)


def gpu_families(readings: Iterable[GpuReading], driver_version: str | None) -> Iterator[Metric]:
    """Families for ``readings``; values a GPU does not report have no sample, empty families are left out."""
    readings = list(readings)
    info = GaugeMetricFamily(
        "training_gpu_info", "GPU identity, always 1", labels=[*_LABELS, "name", "driver_version"]
    )
    up = GaugeMetricFamily("training_gpu_up", "1 while NVML answers for this GPU, 0 when it is lost", labels=_LABELS)
    for r in readings:
        ids = [str(r.index), r.uuid]
        info.add_metric([*ids, r.name, driver_version or ""], 1)
        up.add_metric(ids, 1 if r.up else 0)
    families = [info, up]
    for name, kind, documentation, attribute, extra in _FAMILIES:
        family = _family(name, kind, documentation, _LABELS if extra is None else [*_LABELS, extra])
        for r in readings:
            ids = [str(r.index), r.uuid]
            value = getattr(r, attribute)
            if extra is None:
                if value is not None:
                    family.add_metric(ids, float(value))
            else:
                for key, item in value.items():
                    family.add_metric([*ids, key], float(item))
        families.append(family)
    yield from (f for f in families if f.samples)


class GpuCollector(Collector):
    """``training_gpu_*`` from the telemetry's latest readings; fails (success 0) without NVML."""

    name = "gpu"

    def __init__(self, telemetry: GpuTelemetry, stats: CollectorStats) -> None:
        super().__init__(stats)
        self._telemetry = telemetry

    def scrape(self) -> tuple[bool, Iterable[Metric]]:
        if not self._telemetry.available:
            return False, []
        readings = self._telemetry.readings()
        return any(r.up for r in readings), gpu_families(readings, self._telemetry.driver_version)
