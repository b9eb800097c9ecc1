"""Opening the GPU telemetry: start NVML and find the GPUs to watch, or say once why there are none."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from exporter.gpu.device import driver_version
from exporter.gpu.discovery import SpecLookup, default_spec_lookup, discover, selection_from
from exporter.gpu.nvml import GpuLost, Nvml, NvmlUnavailable
from exporter.gpu.processes import ProcessTable
from exporter.gpu.sampler import GpuTelemetry
from exporter.gpu.settings import GpuSettings

log = logging.getLogger(__name__)


def open_telemetry(
    settings: GpuSettings,
    nvml_module: Any = None,
    clock: Callable[[], float] = time.monotonic,
    *,
    environ: Mapping[str, str] | None = None,
    spec_lookup: SpecLookup | None = None,
    processes: ProcessTable | None = None,
) -> GpuTelemetry:
    """Start NVML and find the GPUs to watch. Never raises: without NVML or GPUs the telemetry is
    unavailable and ``error`` says why (logged once here)."""
    nvml = None
    try:
        nvml = Nvml.open(nvml_module)
        selection = selection_from(settings.gpus, os.environ if environ is None else environ)
        gpus = discover(nvml, selection, spec_lookup or default_spec_lookup)
        version = driver_version(nvml)
    except (NvmlUnavailable, GpuLost) as exc:
        return _unavailable(settings, nvml, f"GPU metrics are off: {exc}")
    except Exception as exc:  # a broken driver must not stop the exporter
        return _unavailable(settings, nvml, f"GPU metrics are off: NVML failed ({type(exc).__name__}: {exc})")
    names = ", ".join(f"{gpu.index} {gpu.name}" for gpu in gpus)
    log.info("watching GPUs %s (driver %s)", names, version or "unknown")
    return GpuTelemetry(nvml, gpus, settings=settings, clock=clock, processes=processes, driver_version=version)


def _unavailable(settings: GpuSettings, nvml: Nvml | None, message: str) -> GpuTelemetry:
    log.warning("%s", message)
    if nvml is not None:
        nvml.shutdown()
    return GpuTelemetry(None, [], settings=settings, error=message)
