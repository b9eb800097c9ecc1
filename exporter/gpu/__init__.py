"""GPU telemetry through NVML: which GPUs to watch, a background sampler, their latest readings.

Open it with :func:`open_telemetry`; the collector and the energy accounting read the
:class:`GpuTelemetry` it returns.
"""

from exporter.gpu.reading import GpuReading
from exporter.gpu.sampler import GpuTelemetry
from exporter.gpu.settings import GpuSettings
from exporter.gpu.telemetry import open_telemetry

__all__ = ["GpuReading", "GpuSettings", "GpuTelemetry", "open_telemetry"]
