"""A stand-in for the ``pynvml`` module: the NVML calls the exporter makes, answered from plain
per-GPU values. A GPU can refuse chosen calls with ``NotSupported``, lack the energy counter, or be
lost; the library can fail to start like on a machine without the NVIDIA driver."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from dataclasses import dataclass, field
from types import SimpleNamespace


class NVMLError(Exception):
    value = 999

    def __str__(self) -> str:
        return type(self).__name__.removeprefix("NVMLError_")


def _error(name: str, code: int) -> type[NVMLError]:
    return type(f"NVMLError_{name}", (NVMLError,), {"value": code})


NVMLError_NotSupported = _error("NotSupported", 3)
NVMLError_NoPermission = _error("NoPermission", 4)
NVMLError_NotFound = _error("NotFound", 6)
NVMLError_DriverNotLoaded = _error("DriverNotLoaded", 9)
NVMLError_LibraryNotFound = _error("LibraryNotFound", 12)
NVMLError_FunctionNotFound = _error("FunctionNotFound", 13)
NVMLError_GpuIsLost = _error("GpuIsLost", 15)
NVMLError_Unknown = _error("Unknown", 999)

GIB = 2**30


@dataclass
class FakeGpu:
    """One GPU's answers, in NVML's units (mW, mJ, MHz, %, ns). Defaults: a busy RTX 4090."""

    uuid: str
    name: str = "NVIDIA GeForce RTX 4090"
    power_mw: int = 285_123
    power_instant_mw: int = 301_456
    power_average_mw: int = 284_000
    power_limit_mw: int = 450_000
    energy_mj: int = 5_000_000
    memory_total: int = 24 * GIB
    memory_used: int = 18 * GIB
    utilization_gpu: int = 97
    utilization_memory: int = 41
    temperature: int = 71
    thresholds: dict[int, int] = field(default_factory=lambda: {0: 95, 1: 92, 3: 88})
    clocks_mhz: dict[int, int] = field(default_factory=lambda: {1: 2520, 2: 10501})
    max_clocks_mhz: dict[int, int] = field(default_factory=lambda: {1: 3105, 2: 10501})
    supported_reasons: int = 0x1FF
    active_reasons: int = 0x4  # sw_power_cap
    violations_ns: dict[int, int] = field(default_factory=lambda: {0: 12_500_000_000, 1: 0})
    fan_percent: int = 45
    processes: list[tuple[int, int | None]] = field(default_factory=list)
    # NVML function names (and "power_instant" / "power_average" fields) answered with NotSupported
    unsupported: set[str] = field(default_factory=set)
    # NVML function names answered with FunctionNotFound (an older driver)
    missing: set[str] = field(default_factory=set)
    lost: bool = False
    # a steady draw, in watts, that the energy counter adds up from the library's start
    energy_watts: float = 0.0


def pascal_gpu(uuid: str) -> FakeGpu:
    """An older board: no energy counter, no power fields, no fan, no TemperatureV, no violations."""
    return FakeGpu(
        uuid=uuid,
        name="Tesla P100-PCIE-16GB",
        power_mw=200_000,
        power_limit_mw=250_000,
        memory_total=16 * GIB,
        memory_used=4 * GIB,
        utilization_gpu=50,
        utilization_memory=20,
        temperature=60,
        thresholds={0: 90, 1: 87},
        clocks_mhz={1: 1189, 2: 715},
        max_clocks_mhz={1: 1328, 2: 715},
        supported_reasons=0x1 | 0x4 | 0x8,
        active_reasons=0x1,
        unsupported={
            "nvmlDeviceGetTotalEnergyConsumption",
            "nvmlDeviceGetFanSpeed",
            "nvmlDeviceGetViolationStatus",
            "power_instant",
            "power_average",
        },
        missing={"nvmlDeviceGetTemperatureV", "nvmlDeviceGetCurrentClocksEventReasons",
                 "nvmlDeviceGetSupportedClocksEventReasons"},
    )


class FakeNvml:
    """Module-like: pass it where ``pynvml`` would go. ``calls`` counts every call made."""

    NVMLError = NVMLError
    NVMLError_NotSupported = NVMLError_NotSupported
    NVMLError_NoPermission = NVMLError_NoPermission
    NVMLError_NotFound = NVMLError_NotFound
    NVMLError_DriverNotLoaded = NVMLError_DriverNotLoaded
    NVMLError_LibraryNotFound = NVMLError_LibraryNotFound
    NVMLError_FunctionNotFound = NVMLError_FunctionNotFound
    NVMLError_GpuIsLost = NVMLError_GpuIsLost
    NVMLError_Unknown = NVMLError_Unknown

    def __init__(
        self,
        gpus: list[FakeGpu],
        driver_version: str = "550.54.14",
        init_error: type[NVMLError] | None = None,
        call_delay: float = 0.0,
    ) -> None:
        self.gpus = gpus
        self.driver_version = driver_version
        self.init_error = init_error
        self.call_delay = call_delay
        self.calls: Counter[str] = Counter()
        self.initialised = False
        self._started = time.monotonic()

    def _count(self, function: str) -> None:
        self.calls[function] += 1
        if self.call_delay:
            time.sleep(self.call_delay)

    def _device(self, handle: FakeGpu, function: str) -> FakeGpu:
        self._count(function)
        if handle.lost:
            raise NVMLError_GpuIsLost()
        if function in handle.missing:
            raise NVMLError_FunctionNotFound()
        if function in handle.unsupported:
            raise NVMLError_NotSupported()
        return handle

    # ---- library --------------------------------------------------------------------------------

    def nvmlInit(self) -> None:
        self._count("nvmlInit")
        if self.init_error is not None:
            raise self.init_error()
        self.initialised = True

    def nvmlShutdown(self) -> None:
        self._count("nvmlShutdown")
        self.initialised = False

    def nvmlSystemGetDriverVersion(self) -> str:
        self._count("nvmlSystemGetDriverVersion")
        return self.driver_version

    def nvmlDeviceGetCount(self) -> int:
        self._count("nvmlDeviceGetCount")
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> FakeGpu:
        return self._device(self.gpus[index], "nvmlDeviceGetHandleByIndex")

    def nvmlDeviceGetHandleByUUID(self, uuid: str) -> FakeGpu:
        for gpu in self.gpus:
            if gpu.uuid == uuid:
                return self._device(gpu, "nvmlDeviceGetHandleByUUID")
        self._count("nvmlDeviceGetHandleByUUID")
        raise NVMLError_NotFound()

    # ---- device ---------------------------------------------------------------------------------

    def nvmlDeviceGetUUID(self, handle: FakeGpu) -> str:
        return self._device(handle, "nvmlDeviceGetUUID").uuid

    def nvmlDeviceGetName(self, handle: FakeGpu) -> str:
        return self._device(handle, "nvmlDeviceGetName").name

    def nvmlDeviceGetPowerUsage(self, handle: FakeGpu) -> int:
        return self._device(handle, "nvmlDeviceGetPowerUsage").power_mw

    def nvmlDeviceGetEnforcedPowerLimit(self, handle: FakeGpu) -> int:
        return self._device(handle, "nvmlDeviceGetEnforcedPowerLimit").power_limit_mw

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: FakeGpu) -> int:
        gpu = self._device(handle, "nvmlDeviceGetTotalEnergyConsumption")
        return gpu.energy_mj + int(gpu.energy_watts * 1000 * (time.monotonic() - self._started))

    def nvmlDeviceGetFieldValues(self, handle: FakeGpu, field_ids: list[int]) -> list[SimpleNamespace]:
        gpu = self._device(handle, "nvmlDeviceGetFieldValues")
        known = {186: ("power_instant", gpu.power_instant_mw), 185: ("power_average", gpu.power_average_mw)}
        values = []
        for field_id in field_ids:
            label, value = known.get(field_id, (None, 0))
            status = 0 if label is not None and label not in gpu.unsupported else 3
            values.append(
                SimpleNamespace(fieldId=field_id, nvmlReturn=status, valueType=1, value=SimpleNamespace(uiVal=value))
            )
        return values

    def nvmlDeviceGetMemoryInfo(self, handle: FakeGpu) -> SimpleNamespace:
        gpu = self._device(handle, "nvmlDeviceGetMemoryInfo")
        return SimpleNamespace(total=gpu.memory_total, free=gpu.memory_total - gpu.memory_used, used=gpu.memory_used)

    def nvmlDeviceGetUtilizationRates(self, handle: FakeGpu) -> SimpleNamespace:
        gpu = self._device(handle, "nvmlDeviceGetUtilizationRates")
        return SimpleNamespace(gpu=gpu.utilization_gpu, memory=gpu.utilization_memory)

    def nvmlDeviceGetTemperatureV(self, handle: FakeGpu, sensor: int) -> int:
        return self._device(handle, "nvmlDeviceGetTemperatureV").temperature

    def nvmlDeviceGetTemperature(self, handle: FakeGpu, sensor: int) -> int:
        return self._device(handle, "nvmlDeviceGetTemperature").temperature

    def nvmlDeviceGetTemperatureThreshold(self, handle: FakeGpu, threshold: int) -> int:
        gpu = self._device(handle, "nvmlDeviceGetTemperatureThreshold")
        if threshold not in gpu.thresholds:
            raise NVMLError_NotSupported()
        return gpu.thresholds[threshold]

    def nvmlDeviceGetClockInfo(self, handle: FakeGpu, clock: int) -> int:
        return self._device(handle, "nvmlDeviceGetClockInfo").clocks_mhz[clock]

    def nvmlDeviceGetMaxClockInfo(self, handle: FakeGpu, clock: int) -> int:
        return self._device(handle, "nvmlDeviceGetMaxClockInfo").max_clocks_mhz[clock]

    def nvmlDeviceGetSupportedClocksEventReasons(self, handle: FakeGpu) -> int:
        return self._device(handle, "nvmlDeviceGetSupportedClocksEventReasons").supported_reasons

    def nvmlDeviceGetSupportedClocksThrottleReasons(self, handle: FakeGpu) -> int:
        return self._device(handle, "nvmlDeviceGetSupportedClocksThrottleReasons").supported_reasons

    def nvmlDeviceGetCurrentClocksEventReasons(self, handle: FakeGpu) -> int:
        return self._device(handle, "nvmlDeviceGetCurrentClocksEventReasons").active_reasons

    def nvmlDeviceGetCurrentClocksThrottleReasons(self, handle: FakeGpu) -> int:
        return self._device(handle, "nvmlDeviceGetCurrentClocksThrottleReasons").active_reasons

    def nvmlDeviceGetViolationStatus(self, handle: FakeGpu, policy: int) -> SimpleNamespace:
        gpu = self._device(handle, "nvmlDeviceGetViolationStatus")
        if policy not in gpu.violations_ns:
            raise NVMLError_NotSupported()
        return SimpleNamespace(referenceTime=0, violationTime=gpu.violations_ns[policy])

    def nvmlDeviceGetFanSpeed(self, handle: FakeGpu) -> int:
        return self._device(handle, "nvmlDeviceGetFanSpeed").fan_percent

    def nvmlDeviceGetComputeRunningProcesses(self, handle: FakeGpu) -> list[SimpleNamespace]:
        gpu = self._device(handle, "nvmlDeviceGetComputeRunningProcesses")
        return [SimpleNamespace(pid=pid, usedGpuMemory=used) for pid, used in gpu.processes]


def fake_gpus(count: int) -> list[FakeGpu]:
    """``count`` busy RTX 4090s with distinct UUIDs."""
    return [FakeGpu(uuid=f"GPU-{i:08x}-1111-2222-3333-444455556666") for i in range(count)]


def pynvml_source(gpus: list[FakeGpu]) -> str:
    """The text of a ``pynvml.py`` that stands in for the library in another process (put its
    folder first on that process's PYTHONPATH): a :class:`FakeNvml` of ``gpus``."""
    return (f"import sys\nsys.path.insert(0, {str(Path(__file__).resolve().parent)!r})\n"
            f"from fake_nvml import FakeGpu, FakeNvml\nsys.modules[__name__] = FakeNvml({gpus!r})\n")
