"""The NVML session: start and stop the library, and call it with one error mapping.

A value the GPU or driver cannot give (``NotSupported``, ``FunctionNotFound``, ``NoPermission``, a
function missing from an older nvidia-ml-py) is ``None``, a lost GPU is :class:`GpuLost`, and a
missing library or driver is one :class:`NvmlUnavailable` whose message names the fix. ``module``
is ``pynvml`` or a stand-in with the same names (tests pass a fake).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from exporter.errors import LogOnce

log = logging.getLogger(__name__)

# NVML errors that mean "this value is not available here": the value is left out.
_UNAVAILABLE_ERRORS = ("NVMLError_NotSupported", "NVMLError_FunctionNotFound", "NVMLError_NoPermission")
# NVML errors that mean the GPU itself has gone away.
_LOST_ERRORS = ("NVMLError_GpuIsLost", "NVMLError_GpuNotFound", "NVMLError_ResetRequired")

# NVML constants the exporter uses (values from nvml.h; tests check them against pynvml).
TEMPERATURE_GPU = 0  # NVML_TEMPERATURE_GPU
TEMPERATURE_THRESHOLDS = {  # label -> NVML_TEMPERATURE_THRESHOLD_*
    "shutdown": 0,  # SHUTDOWN: the GPU shuts down for hardware protection
    "slowdown": 1,  # SLOWDOWN: hardware slowdown begins
    "max_operating": 3,  # GPU_MAX: may be throttled below base clock
}
CLOCKS = {"sm": 1, "memory": 2}  # label -> NVML_CLOCK_SM / NVML_CLOCK_MEM
FIELD_POWER_AVERAGE = 185  # NVML_FI_DEV_POWER_AVERAGE, mW
FIELD_POWER_INSTANT = 186  # NVML_FI_DEV_POWER_INSTANT, mW
CLOCK_EVENT_REASONS = {  # label -> clock event reason bit (pynvml's ClocksEventReason* constants)
    "gpu_idle": 0x1,
    "applications_clocks_setting": 0x2,
    "sw_power_cap": 0x4,
    "hw_slowdown": 0x8,
    "sync_boost": 0x10,
    "sw_thermal_slowdown": 0x20,
    "hw_thermal_slowdown": 0x40,
    "hw_power_brake_slowdown": 0x80,
    "display_clock_setting": 0x100,
}
VIOLATION_POLICIES = {  # label -> NVML_PERF_POLICY_*
    "power": 0,
    "thermal": 1,
    "sync_boost": 2,
    "board_limit": 3,
    "low_utilization": 4,
    "reliability": 5,
}

_INIT_HINTS = {
    "NVMLError_LibraryNotFound": (
        "the NVIDIA driver library libnvidia-ml.so.1 was not found; install the NVIDIA driver, or "
        "in a container run with the NVIDIA Container Toolkit (docker run --gpus all)"
    ),
    "NVMLError_DriverNotLoaded": "the NVIDIA kernel driver is not loaded (does nvidia-smi work?)",
    "NVMLError_NoPermission": "no permission to open the GPU devices (/dev/nvidia*)",
    "NVMLError_LibRmVersionMismatch": (
        "the NVIDIA driver library and kernel module versions differ; reboot after a driver update"
    ),
}


class NvmlUnavailable(Exception):
    """NVML cannot be used at all; the message says why and what to do."""


class GpuLost(Exception):
    """The GPU stopped answering (``NVMLError_GpuIsLost``)."""


def _error_classes(module: Any, names: tuple[str, ...]) -> tuple[type[BaseException], ...]:
    return tuple(cls for cls in (getattr(module, n, None) for n in names) if isinstance(cls, type))


def text(value: Any) -> str:
    """An NVML string (``bytes`` from older nvidia-ml-py) as ``str``."""
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


class Nvml:
    """A started NVML: calls by function name with uniform error handling."""

    def __init__(self, module: Any) -> None:
        self.module = module
        self._base_error = getattr(module, "NVMLError", Exception)
        self._unavailable = _error_classes(module, _UNAVAILABLE_ERRORS)
        self._lost = _error_classes(module, _LOST_ERRORS)
        self._log_once = LogOnce(log)

    @classmethod
    def open(cls, module: Any = None) -> Nvml:
        """Import (when ``module`` is None) and initialise NVML, or raise :class:`NvmlUnavailable`."""
        if module is None:
            try:
                import pynvml as module  # noqa: PLC0415 - only needed when GPUs are watched
            except ImportError as exc:
                raise NvmlUnavailable(
                    f"the nvidia-ml-py package is not installed ({exc}); pip install nvidia-ml-py"
                ) from exc
        nvml = cls(module)
        try:
            module.nvmlInit()
        except nvml._base_error as exc:
            hint = _INIT_HINTS.get(type(exc).__name__, "NVML could not be initialised")
            raise NvmlUnavailable(f"{hint} ({text(exc)})") from exc
        except OSError as exc:
            raise NvmlUnavailable(f"NVML could not be loaded ({exc})") from exc
        return nvml

    def shutdown(self) -> None:
        try:
            self.module.nvmlShutdown()
        except self._base_error as exc:
            log.debug("nvmlShutdown failed: %s", exc)

    def call(self, function: str, *args: Any) -> Any:
        """``module.<function>(*args)``; ``None`` when the value is not available, :class:`GpuLost`
        when the GPU is gone. Any other NVML error is logged once per function and error, and
        also gives ``None``: one odd reading must not hide the others."""
        fn: Callable[..., Any] | None = getattr(self.module, function, None)
        if fn is None:
            return None
        try:
            return fn(*args)
        except self._lost as exc:
            raise GpuLost(text(exc)) from exc
        except self._unavailable:
            return None
        except self._base_error as exc:
            self._log_once(
                (function, type(exc).__name__), "NVML %s failed: %s; that value is left out", function, text(exc)
            )
            return None

    def call_first(self, functions: tuple[str, ...], *args: Any) -> Any:
        """The first available answer among ``functions`` (the current NVML call, then deprecated ones)."""
        for function in functions:
            value = self.call(function, *args)
            if value is not None:
                return value
        return None
