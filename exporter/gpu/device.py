"""One GPU as NVML sees it: typed readers in base units (W, J, bytes, Hz, °C, ratios 0-1, s).

This is the only module that names NVML functions; each reader gives ``None`` (or leaves a key
out) where the GPU does not say, and raises :class:`~exporter.gpu.nvml.GpuLost` when it is gone.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from exporter.gpu.nvml import (
    CLOCK_EVENT_REASONS,
    CLOCKS,
    FIELD_POWER_AVERAGE,
    FIELD_POWER_INSTANT,
    TEMPERATURE_GPU,
    TEMPERATURE_THRESHOLDS,
    VIOLATION_POLICIES,
    Nvml,
    text,
)

_MHZ = 1e6
_MILLI = 1e-3
_NANO = 1e-9
_SUCCESS = 0  # NVML_SUCCESS
# nvmlValueType_t -> the member of nvmlValue_t that holds the value.
_FIELD_VALUE_MEMBERS = {0: "dVal", 1: "uiVal", 2: "ulVal", 3: "ullVal", 4: "sllVal", 5: "siVal", 6: "usVal"}


def _scaled(value: float | None, factor: float) -> float | None:
    return None if value is None else value * factor


def _ratio(percent: float | None) -> float | None:
    return None if percent is None else percent / 100


class Memory(NamedTuple):
    """One memory-info answer, in bytes."""

    used_bytes: int
    free_bytes: int
    total_bytes: int

    @property
    def oom_risk_ratio(self) -> float | None:
        """1 - free / total (whichever memory-info version the driver reports); None without a total."""
        return 1 - self.free_bytes / self.total_bytes if self.total_bytes else None


class Device:
    """An NVML device handle and what can be read from it."""

    def __init__(self, nvml: Nvml, handle: Any) -> None:
        self._nvml = nvml
        self._handle = handle

    def _call(self, function: str, *args: Any) -> Any:
        return self._nvml.call(function, self._handle, *args)

    def _call_first(self, functions: tuple[str, ...], *args: Any) -> Any:
        return self._nvml.call_first(functions, self._handle, *args)

    # ---- what a sampler pass puts into a GpuReading ---------------------------------------------

    def static_values(self) -> dict[str, Any]:
        """Values that do not change while the driver runs, by GpuReading field name."""
        return {
            "temperature_thresholds_celsius": self.temperature_thresholds_celsius(),
            "clocks_max_hertz": self.clocks_max_hertz(),
        }

    def pass_values(self, supported_reasons: int | None) -> dict[str, Any]:
        """What a sampler pass reads for the GpuReading, by field name (the energy counter and the
        compute processes are read apart: they feed the energy meter and the trainer's memory)."""
        instant, average = self.power_fields_watts()
        memory = self.memory()
        utilization_gpu, utilization_memory = self.utilization_ratios()
        return {
            "power_watts": self.power_watts(),
            "power_instant_watts": instant,
            "power_average_watts": average,
            "power_limit_watts": self.power_limit_watts(),
            "memory_used_bytes": None if memory is None else memory.used_bytes,
            "memory_free_bytes": None if memory is None else memory.free_bytes,
            "memory_total_bytes": None if memory is None else memory.total_bytes,
            "oom_risk_ratio": None if memory is None else memory.oom_risk_ratio,
            "utilization_ratio": utilization_gpu,
            "memory_utilization_ratio": utilization_memory,
            "temperature_celsius": self.temperature_celsius(),
            "clocks_hertz": self.clocks_hertz(),
            "clock_events_active": self.clock_events_active(supported_reasons),
            "throttled_seconds": self.throttled_seconds(),
            "fan_speed_ratio": self.fan_speed_ratio(),
        }

    # ---- identity -------------------------------------------------------------------------------

    def uuid(self) -> str | None:
        value = self._call("nvmlDeviceGetUUID")
        return None if value is None else text(value)

    def name(self) -> str | None:
        value = self._call("nvmlDeviceGetName")
        return None if value is None else text(value)

    # ---- power and energy -----------------------------------------------------------------------

    def power_watts(self) -> float | None:
        """Power draw (on Ampere and newer, except A100, a 1-second average)."""
        return _scaled(self._call("nvmlDeviceGetPowerUsage"), _MILLI)

    def power_limit_watts(self) -> float | None:
        return _scaled(self._call("nvmlDeviceGetEnforcedPowerLimit"), _MILLI)

    def power_fields_watts(self) -> tuple[float | None, float | None]:
        """``(instant, average)`` power from the field values, where the driver offers them."""
        fields = self._field_values([FIELD_POWER_INSTANT, FIELD_POWER_AVERAGE])
        return _scaled(fields.get(FIELD_POWER_INSTANT), _MILLI), _scaled(fields.get(FIELD_POWER_AVERAGE), _MILLI)

    def _field_values(self, field_ids: list[int]) -> dict[int, float]:
        """The requested fields that the device answered, by field id, in NVML's units."""
        values = self._call("nvmlDeviceGetFieldValues", field_ids)
        answered: dict[int, float] = {}
        for field_id, value in zip(field_ids, values or ()):
            member = _FIELD_VALUE_MEMBERS.get(value.valueType)
            if value.nvmlReturn == _SUCCESS and member is not None:
                answered[field_id] = getattr(value.value, member)
        return answered

    def energy_counter_millijoules(self) -> int | None:
        """NVML's energy counter (Volta and newer), kept in its integer mJ so that the differences
        :class:`~exporter.gpu.energy_meter.EnergyMeter` takes are exact."""
        value = self._call("nvmlDeviceGetTotalEnergyConsumption")
        return None if value is None else int(value)

    # ---- memory and load ------------------------------------------------------------------------

    def memory(self) -> Memory | None:
        info = self._call("nvmlDeviceGetMemoryInfo")
        return None if info is None else Memory(int(info.used), int(info.free), int(info.total))

    def utilization_ratios(self) -> tuple[float | None, float | None]:
        """``(gpu, memory controller)`` busy, 0-1."""
        rates = self._call("nvmlDeviceGetUtilizationRates")
        if rates is None:
            return None, None
        return _ratio(rates.gpu), _ratio(rates.memory)

    def fan_speed_ratio(self) -> float | None:
        return _ratio(self._call("nvmlDeviceGetFanSpeed"))

    def compute_processes(self) -> list[tuple[int, int | None]] | None:
        """``(pid, used bytes or None)`` for each compute process on the device."""
        processes = self._call("nvmlDeviceGetComputeRunningProcesses")
        if processes is None:
            return None
        return [(int(p.pid), None if p.usedGpuMemory is None else int(p.usedGpuMemory)) for p in processes]

    # ---- temperature ----------------------------------------------------------------------------

    def temperature_celsius(self) -> float | None:
        value = self._call_first(("nvmlDeviceGetTemperatureV", "nvmlDeviceGetTemperature"), TEMPERATURE_GPU)
        return None if value is None else float(value)

    def temperature_thresholds_celsius(self) -> dict[str, float]:
        return {
            label: float(value)
            for label, threshold in TEMPERATURE_THRESHOLDS.items()
            if (value := self._call("nvmlDeviceGetTemperatureThreshold", threshold)) is not None
        }

    # ---- clocks ---------------------------------------------------------------------------------

    def clocks_hertz(self) -> dict[str, float]:
        return self._clocks("nvmlDeviceGetClockInfo")

    def clocks_max_hertz(self) -> dict[str, float]:
        return self._clocks("nvmlDeviceGetMaxClockInfo")

    def _clocks(self, function: str) -> dict[str, float]:
        return {
            label: value * _MHZ
            for label, clock in CLOCKS.items()
            if (value := self._call(function, clock)) is not None
        }

    def supported_clock_event_reasons(self) -> int | None:
        """The bitmask of clock event reasons the GPU can report; None when it does not say."""
        return self._call_first(
            ("nvmlDeviceGetSupportedClocksEventReasons", "nvmlDeviceGetSupportedClocksThrottleReasons")
        )

    def clock_events_active(self, supported: int | None) -> dict[str, bool]:
        """Whether each supported clock event reason is active (all reasons when ``supported`` is None)."""
        active = self._call_first(
            ("nvmlDeviceGetCurrentClocksEventReasons", "nvmlDeviceGetCurrentClocksThrottleReasons")
        )
        if active is None:
            return {}
        return {
            label: bool(active & bit)
            for label, bit in CLOCK_EVENT_REASONS.items()
            if supported is None or supported & bit
        }

    def throttled_seconds(self) -> dict[str, float]:
        """NVML's violation time per policy, counted since the driver loaded."""
        throttled = {}
        for label, policy in VIOLATION_POLICIES.items():
            status = self._call("nvmlDeviceGetViolationStatus", policy)
            if status is not None:
                throttled[label] = int(status.violationTime) * _NANO
        return throttled


# ---- the machine's devices ----------------------------------------------------------------------


def device_count(nvml: Nvml) -> int:
    return int(nvml.call("nvmlDeviceGetCount") or 0)


def device_by_index(nvml: Nvml, index: int) -> Device | None:
    handle = nvml.call("nvmlDeviceGetHandleByIndex", index)
    return None if handle is None else Device(nvml, handle)


def device_by_uuid(nvml: Nvml, uuid: str) -> Device | None:
    handle = nvml.call("nvmlDeviceGetHandleByUUID", uuid)
    return None if handle is None else Device(nvml, handle)


def driver_version(nvml: Nvml) -> str | None:
    value = nvml.call("nvmlSystemGetDriverVersion")
    return None if value is None else text(value)
