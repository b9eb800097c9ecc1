"""GPU collector: the telemetry's latest readings as ``training_gpu_*`` families (no NVML calls here).

The families and their order come from the metrics that :class:`~exporter.gpu.GpuReading`'s fields
declare.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from exporter.collectors.base import Collector, CollectorStats
from exporter.gpu import GpuReading, GpuTelemetry
from exporter.gpu.reading import COUNTER, MetricSpec, metric_fields

_LABELS = ["gpu", "uuid"]
_METRIC_FIELDS = metric_fields()


def _family(metric: MetricSpec) -> Metric:
    labels = _LABELS if metric.label is None else [*_LABELS, metric.label]
    family_type = CounterMetricFamily if metric.kind == COUNTER else GaugeMetricFamily
    return family_type(metric.name, metric.help, labels=labels)


def _info_family(readings: list[GpuReading], driver_version: str | None) -> Metric:
    info = GaugeMetricFamily(
        "training_gpu_info", "GPU identity, always 1", labels=[*_LABELS, "name", "driver_version"]
    )
    for r in readings:
        info.add_metric([str(r.index), r.uuid, r.name, driver_version or ""], 1)
    return info


def gpu_families(readings: Iterable[GpuReading], driver_version: str | None) -> Iterator[Metric]:
    """Families for ``readings``; values a GPU does not report have no sample, empty families are left out."""
    readings = list(readings)
    families = [_info_family(readings, driver_version)]
    for attribute, metric in _METRIC_FIELDS:
        family = _family(metric)
        for r in readings:
            ids = [str(r.index), r.uuid]
            value = getattr(r, attribute)
            if metric.label is None:
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
        # the families of the latest readings: built once per sampler pass, the same objects for
        # every scrape until the next (so labelling and encoding them happen once too)
        self._built: tuple[object, tuple[bool, list[Metric]]] = (None, (False, []))

    def scrape(self) -> tuple[bool, Iterable[Metric]]:
        if not self._telemetry.available:
            return False, []
        readings = self._telemetry.readings()
        if self._built[0] is not readings:
            self._built = readings, (any(r.up for r in readings),
                                     list(gpu_families(readings, self._telemetry.driver_version)))
        return self._built[1]
