"""GPU telemetry: which GPUs to watch, a background sampler that reads them, their latest readings.

All NVML calls happen at open and on the sampler thread (every ``gpu_sample_interval_seconds``);
a scrape only copies the latest readings, so slow NVML calls never reach the scrape path. The
sampler also keeps each GPU's energy since start: NVML's energy counter where the GPU has one,
else the sampled power integrated over time.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from exporter.config import Config
from exporter.gpu_processes import ProcessTable, ProcFs, trainer_pids
from exporter.gpu_selection import select_devices, selection_from
from exporter.nvml import (
    CLOCK_EVENT_REASONS,
    CLOCKS,
    FIELD_POWER_AVERAGE,
    FIELD_POWER_INSTANT,
    TEMPERATURE_THRESHOLDS,
    VIOLATION_POLICIES,
    GpuLost,
    Nvml,
    NvmlUnavailable,
)

log = logging.getLogger(__name__)

RECOVERY_RETRY_SECONDS = 5.0  # how often a lost GPU is looked for again
_MHZ = 1e6
_MILLI = 1e-3


@dataclass(frozen=True)
class GpuReading:
    """One GPU at one sampler pass, in base units; ``None`` where the GPU does not say."""

    index: int
    uuid: str
    name: str
    up: bool = True
    power_watts: float | None = None
    power_instant_watts: float | None = None
    power_average_watts: float | None = None
    power_limit_watts: float | None = None
    energy_joules: float | None = None
    energy_method: str | None = None  # "counter" or "integrated"
    memory_used_bytes: int | None = None
    memory_free_bytes: int | None = None
    memory_total_bytes: int | None = None
    oom_risk_ratio: float | None = None
    trainer_memory_used_bytes: int | None = None
    utilization_ratio: float | None = None
    memory_utilization_ratio: float | None = None
    temperature_celsius: float | None = None
    temperature_thresholds_celsius: dict[str, float] = field(default_factory=dict)
    clocks_hertz: dict[str, float] = field(default_factory=dict)
    clocks_max_hertz: dict[str, float] = field(default_factory=dict)
    clock_events_active: dict[str, bool] = field(default_factory=dict)
    throttled_seconds: dict[str, float] = field(default_factory=dict)
    fan_speed_ratio: float | None = None
    peak_flops: float | None = None

    @property
    def energy_by_method(self) -> dict[str, float]:
        if self.energy_joules is None or self.energy_method is None:
            return {}
        return {self.energy_method: self.energy_joules}


class EnergyMeter:
    """Energy since start, from NVML's counter (mJ) or, where there is none, integrated power."""

    def __init__(self) -> None:
        self.method: str | None = None
        self._joules = 0.0
        self._last_counter_mj: int | None = None
        self._last_power: tuple[float, float] | None = None  # (watts, time)

    @property
    def joules(self) -> float | None:
        return None if self.method is None else self._joules

    def update(self, counter_mj: int | None, watts: float | None, now: float) -> None:
        if self.method is None:
            if counter_mj is not None:
                self.method = "counter"
            elif watts is not None:
                self.method = "integrated"
            else:
                return
        if self.method == "counter":
            if counter_mj is None:
                return
            if self._last_counter_mj is not None and counter_mj >= self._last_counter_mj:
                self._joules += (counter_mj - self._last_counter_mj) * _MILLI
            # a counter that went backwards (driver reloaded) becomes the new baseline
            self._last_counter_mj = counter_mj
            return
        if watts is not None and self._last_power is not None:
            last_watts, last_time = self._last_power
            self._joules += (last_watts + watts) / 2 * max(0.0, now - last_time)
        self._last_power = None if watts is None else (watts, now)

    def pause(self) -> None:
        """The GPU stopped answering: do not integrate power across the gap."""
        self._last_power = None


@dataclass
class _Gpu:
    """The sampler's own state for one watched GPU."""

    index: int
    uuid: str
    name: str
    handle: Any
    thresholds: dict[str, float] = field(default_factory=dict)
    max_clocks: dict[str, float] = field(default_factory=dict)
    supported_reasons: int | None = None
    peak_flops: float | None = None
    energy: EnergyMeter = field(default_factory=EnergyMeter)
    lost: bool = False
    next_recovery: float = 0.0


def _read_static(nvml: Nvml, gpu: _Gpu) -> None:
    """Values that do not change while the driver runs (raises GpuLost)."""
    gpu.thresholds = {
        label: float(v)
        for label, threshold in TEMPERATURE_THRESHOLDS.items()
        if (v := nvml.call("nvmlDeviceGetTemperatureThreshold", gpu.handle, threshold)) is not None
    }
    gpu.max_clocks = {
        label: v * _MHZ
        for label, clock in CLOCKS.items()
        if (v := nvml.call("nvmlDeviceGetMaxClockInfo", gpu.handle, clock)) is not None
    }
    gpu.supported_reasons, _ = nvml.clock_event_reasons(gpu.handle)


def _ratio(percent: float | None) -> float | None:
    return None if percent is None else percent / 100


def _watts(milliwatts: float | None) -> float | None:
    return None if milliwatts is None else milliwatts * _MILLI


class GpuTelemetry:
    """The watched GPUs and their latest readings. Build it with :func:`open_telemetry`."""

    def __init__(
        self,
        nvml: Nvml | None,
        gpus: list[_Gpu],
        *,
        config: Config,
        clock: Callable[[], float] = time.monotonic,
        processes: ProcessTable | None = None,
        driver_version: str | None = None,
        error: str | None = None,
    ) -> None:
        self.available = nvml is not None
        self.error = error
        self.driver_version = driver_version
        self._nvml = nvml
        self._gpus = gpus
        self._config = config
        self._clock = clock
        self._processes = processes or ProcFs()
        self._lock = threading.Lock()
        self._sample_lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._last_sampler_error: str | None = None
        self._readings = tuple(self._identity_reading(gpu) for gpu in gpus)

    # ---- what collectors and the energy accounting read (no NVML calls) -------------------------

    def readings(self) -> tuple[GpuReading, ...]:
        with self._lock:
            return self._readings

    def run_uuids(self) -> set[str]:
        """The GPUs the run uses: those holding the trainer's memory, else every watched GPU."""
        readings = self.readings()
        return {r.uuid for r in readings if r.trainer_memory_used_bytes} or {r.uuid for r in readings}

    def energy_joules(self) -> dict[str, float]:
        """Energy since start of each of the run's GPUs, by UUID."""
        run = self.run_uuids()
        return {r.uuid: r.energy_joules for r in self.readings() if r.uuid in run and r.energy_joules is not None}

    def peak_flops(self) -> float | None:
        """The summed dense bf16 peak of the run's GPUs; None if one of them is not a known model."""
        run = self.run_uuids()
        gpus = [gpu for gpu in self._gpus if gpu.uuid in run]
        if not gpus or any(gpu.peak_flops is None for gpu in gpus):
            return None
        return sum(gpu.peak_flops for gpu in gpus)

    # ---- the sampler ----------------------------------------------------------------------------

    def start(self) -> None:
        if not self.available or self._closed or self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="gpu-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stopping.set()
            thread.join(timeout=self._config.gpu_sample_interval_seconds + 10)
        if self._nvml is not None and not self._closed:
            with self._sample_lock:
                self._closed = True
                self._nvml.shutdown()

    def _run(self) -> None:
        interval = self._config.gpu_sample_interval_seconds
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                self.sample_once()
                self._last_sampler_error = None
            except Exception as exc:  # the sampler must outlive any one bad pass
                message = f"{type(exc).__name__}: {exc}"
                if message != self._last_sampler_error:
                    log.exception("GPU sampler pass failed: %s", message)
                    self._last_sampler_error = message
            self._stopping.wait(max(0.0, interval - (time.monotonic() - started)))

    def sample_once(self) -> None:
        """Read every watched GPU once and publish the readings."""
        if self._nvml is None:
            return
        with self._sample_lock:
            if self._closed:
                return
            now = self._clock()
            sampled: list[tuple[GpuReading, list[tuple[int, int | None]] | None]] = []
            for gpu in self._gpus:
                recovering = gpu.lost
                try:
                    if recovering and not self._reacquire(gpu, now):
                        sampled.append((self._lost_reading(gpu), None))
                        continue
                    sampled.append(self._read(gpu, now))
                except GpuLost as exc:
                    self._mark_lost(gpu, now, str(exc))
                    sampled.append((self._lost_reading(gpu), None))
                    continue
                if recovering:
                    gpu.lost = False
                    log.warning("GPU %d (%s) is back", gpu.index, gpu.uuid)
            readings = self._with_trainer_memory(sampled)
            with self._lock:
                self._readings = readings

    # ---- one GPU --------------------------------------------------------------------------------

    def _read(self, gpu: _Gpu, now: float) -> tuple[GpuReading, list[tuple[int, int | None]] | None]:
        nvml, handle = self._nvml, gpu.handle
        power = _watts(nvml.call("nvmlDeviceGetPowerUsage", handle))
        fields = nvml.field_values(handle, [FIELD_POWER_INSTANT, FIELD_POWER_AVERAGE])
        counter = None
        if gpu.energy.method != "integrated":  # a GPU without the counter is not asked again
            counter = nvml.call("nvmlDeviceGetTotalEnergyConsumption", handle)
        memory = nvml.call("nvmlDeviceGetMemoryInfo", handle)
        utilization = nvml.call("nvmlDeviceGetUtilizationRates", handle)
        temperature = nvml.temperature_celsius(handle)
        clocks = {label: nvml.call("nvmlDeviceGetClockInfo", handle, c) for label, c in CLOCKS.items()}
        _, active_reasons = nvml.clock_event_reasons(handle)
        violations = {label: nvml.violation_nanoseconds(handle, p) for label, p in VIOLATION_POLICIES.items()}
        fan = nvml.call("nvmlDeviceGetFanSpeed", handle)
        processes = nvml.compute_processes(handle)
        power_limit = _watts(nvml.call("nvmlDeviceGetEnforcedPowerLimit", handle))

        instant = _watts(fields.get(FIELD_POWER_INSTANT))
        average = _watts(fields.get(FIELD_POWER_AVERAGE))
        gpu.energy.update(counter, next((w for w in (power, average, instant) if w is not None), None), now)
        total = None if memory is None else int(memory.total)
        free = None if memory is None else int(memory.free)
        reading = replace(
            self._identity_reading(gpu),
            power_watts=power,
            power_instant_watts=instant,
            power_average_watts=average,
            power_limit_watts=power_limit,
            energy_joules=gpu.energy.joules,
            energy_method=gpu.energy.method,
            memory_used_bytes=None if memory is None else int(memory.used),
            memory_free_bytes=free,
            memory_total_bytes=total,
            oom_risk_ratio=1 - free / total if total else None,
            utilization_ratio=None if utilization is None else _ratio(utilization.gpu),
            memory_utilization_ratio=None if utilization is None else _ratio(utilization.memory),
            temperature_celsius=None if temperature is None else float(temperature),
            clocks_hertz={label: v * _MHZ for label, v in clocks.items() if v is not None},
            clock_events_active=self._clock_events(gpu.supported_reasons, active_reasons),
            throttled_seconds={label: ns * 1e-9 for label, ns in violations.items() if ns is not None},
            fan_speed_ratio=_ratio(fan),
        )
        return reading, processes

    @staticmethod
    def _clock_events(supported: int | None, active: int | None) -> dict[str, bool]:
        # A GPU that does not say which reasons it supports reports all of them.
        if active is None:
            return {}
        return {
            label: bool(active & bit)
            for label, bit in CLOCK_EVENT_REASONS.items()
            if supported is None or supported & bit
        }

    def _identity_reading(self, gpu: _Gpu) -> GpuReading:
        return GpuReading(
            index=gpu.index,
            uuid=gpu.uuid,
            name=gpu.name,
            temperature_thresholds_celsius=gpu.thresholds,
            clocks_max_hertz=gpu.max_clocks,
            energy_joules=gpu.energy.joules,
            energy_method=gpu.energy.method,
            peak_flops=gpu.peak_flops,
        )

    @staticmethod
    def _lost_reading(gpu: _Gpu) -> GpuReading:
        return GpuReading(
            index=gpu.index,
            uuid=gpu.uuid,
            name=gpu.name,
            up=False,
            energy_joules=gpu.energy.joules,
            energy_method=gpu.energy.method,
            peak_flops=gpu.peak_flops,
        )

    def _mark_lost(self, gpu: _Gpu, now: float, reason: str) -> None:
        gpu.next_recovery = now + RECOVERY_RETRY_SECONDS
        gpu.energy.pause()
        if not gpu.lost:
            gpu.lost = True
            log.warning(
                "GPU %d (%s) is lost (%s): training_gpu_up is 0 for it until NVML answers again",
                gpu.index, gpu.uuid, reason,
            )

    def _reacquire(self, gpu: _Gpu, now: float) -> bool:
        """Look for a lost GPU again (every RECOVERY_RETRY_SECONDS); raises GpuLost."""
        if now < gpu.next_recovery:
            return False
        gpu.next_recovery = now + RECOVERY_RETRY_SECONDS
        handle = self._nvml.handle_by_uuid(gpu.uuid)
        if handle is None:
            return False
        gpu.handle = handle
        _read_static(self._nvml, gpu)
        return True

    def _with_trainer_memory(
        self, sampled: list[tuple[GpuReading, list[tuple[int, int | None]] | None]]
    ) -> tuple[GpuReading, ...]:
        """Add each GPU's memory used by the trainer, choosing the trainer's processes across all
        GPUs at once so that a GPU without the trainer shows 0, not someone else's memory."""
        pids = {pid for _, processes in sampled for pid, _ in processes or ()}
        chosen = trainer_pids(pids, self._config.trainer_pid, self._config.trainer_cmdline_match, self._processes)
        readings = []
        for reading, processes in sampled:
            if processes is not None:
                mine = [used for pid, used in processes if pid in chosen]
                known = [used for used in mine if used is not None]
                if known or not mine:
                    reading = replace(reading, trainer_memory_used_bytes=sum(known))
            readings.append(reading)
        return tuple(readings)


def _default_spec_lookup(name: str) -> Any:
    from exporter.gpu_specs import lookup  # noqa: PLC0415 - the spec table is only needed here

    return lookup(name)


def _discover(
    nvml: Nvml, selection: list[str] | None, spec_lookup: Callable[[str], Any]
) -> list[_Gpu]:
    devices: list[tuple[int, str, Any]] = []
    for index in range(nvml.device_count()):
        try:
            handle = nvml.handle_by_index(index)
            uuid = None if handle is None else nvml.uuid(handle)
        except GpuLost as exc:
            log.warning("GPU %d did not answer at start-up (%s); it is not watched", index, exc)
            continue
        if uuid is not None:
            devices.append((index, uuid, handle))
    found = ", ".join(f"{index} {uuid}" for index, uuid, _ in devices) or "none"
    chosen, problems = select_devices(selection, [(index, uuid) for index, uuid, _ in devices])
    for problem in problems:
        log.warning("GPU selection: %s (GPUs found: %s)", problem, found)
    if not chosen:
        wanted = "" if selection is None else f" matching {','.join(selection)}"
        raise NvmlUnavailable(f"no NVIDIA GPU{wanted} was found (GPUs found: {found})")
    gpus = []
    for index, uuid, handle in devices:
        if index not in chosen:
            continue
        try:
            gpu = _Gpu(index=index, uuid=uuid, name=nvml.name(handle) or "unknown", handle=handle)
            _read_static(nvml, gpu)
        except GpuLost as exc:
            log.warning("GPU %d (%s) did not answer at start-up (%s); it is not watched", index, uuid, exc)
            continue
        gpus.append(gpu)
    if not gpus:
        raise NvmlUnavailable("none of the selected GPUs answered at start-up")
    peaks = _peak_flops_by_name({gpu.name for gpu in gpus}, spec_lookup)
    for gpu in gpus:
        gpu.peak_flops = peaks[gpu.name]
    return gpus


def _peak_flops_by_name(names: set[str], spec_lookup: Callable[[str], Any]) -> dict[str, float | None]:
    """Dense bf16 peak of each GPU model; an unknown model is logged once."""
    peaks: dict[str, float | None] = {}
    for name in sorted(names):
        try:
            spec = spec_lookup(name)
        except ImportError as exc:
            log.warning("the GPU spec table is unavailable (%s): no peak FLOP/s for %s", exc, name)
            spec = None
        else:
            if spec is None or not spec.bf16_dense_flops:
                log.warning(
                    "unknown GPU %r: it is not in the GPU spec table, so MFU against its own peak "
                    "is not computed",
                    name,
                )
        peaks[name] = float(spec.bf16_dense_flops) if spec is not None and spec.bf16_dense_flops else None
    return peaks


def open_telemetry(
    config: Config,
    nvml_module: Any = None,
    clock: Callable[[], float] = time.monotonic,
    *,
    environ: Mapping[str, str] | None = None,
    spec_lookup: Callable[[str], Any] | None = None,
    processes: ProcessTable | None = None,
) -> GpuTelemetry:
    """Start NVML and find the GPUs to watch. Never raises: without NVML or GPUs the telemetry is
    unavailable and ``error`` says why (logged once here)."""
    nvml = None
    try:
        nvml = Nvml.open(nvml_module)
        gpus = _discover(nvml, selection_from(config, os.environ if environ is None else environ),
                         spec_lookup or _default_spec_lookup)
        driver_version = nvml.driver_version()
    except (NvmlUnavailable, GpuLost) as exc:
        return _unavailable(config, nvml, f"GPU metrics are off: {exc}")
    except Exception as exc:  # a broken driver must not stop the exporter
        return _unavailable(config, nvml, f"GPU metrics are off: NVML failed ({type(exc).__name__}: {exc})")
    names = ", ".join(f"{gpu.index} {gpu.name}" for gpu in gpus)
    log.info("watching GPUs %s (driver %s)", names, driver_version or "unknown")
    return GpuTelemetry(
        nvml, gpus, config=config, clock=clock, processes=processes, driver_version=driver_version
    )


def _unavailable(config: Config, nvml: Nvml | None, message: str) -> GpuTelemetry:
    log.warning("%s", message)
    if nvml is not None:
        nvml.shutdown()
    return GpuTelemetry(None, [], config=config, error=message)
