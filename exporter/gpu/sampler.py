"""The background sampler: reads the watched GPUs every interval, keeps their latest readings, and
marks a GPU that stops answering as down until NVML finds it again.

All NVML calls happen at open and on the sampler thread; a scrape only copies the latest readings,
so slow NVML calls never reach the scrape path.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace

from exporter.errors import LogOnce
from exporter.gpu.device import device_by_uuid
from exporter.gpu.nvml import GpuLost, Nvml
from exporter.gpu.processes import ProcessTable, ProcFs, trainer_pids
from exporter.gpu.reading import GpuReading
from exporter.gpu.settings import GpuSettings
from exporter.gpu.watched import Processes, WatchedGpu
from exporter.threads import Repeating

log = logging.getLogger(__name__)

RECOVERY_RETRY_SECONDS = 5.0  # how often a lost GPU is looked for again


class GpuTelemetry:
    """The watched GPUs and their latest readings. Build it with :func:`exporter.gpu.open_telemetry`."""

    def __init__(
        self,
        nvml: Nvml | None,
        gpus: list[WatchedGpu],
        *,
        settings: GpuSettings,
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
        self._settings = settings
        self._clock = clock
        self._processes = processes or ProcFs()
        self._lock = threading.Lock()
        self._sample_lock = threading.Lock()
        self._loop = Repeating("gpu-sampler", self._step, self._failed, settings.sample_interval_seconds)
        self._closed = False
        self._log_failed_pass = LogOnce(log, logging.ERROR)
        self._readings = tuple(gpu.identity_reading() for gpu in gpus)

    # ---- what collectors and the energy accounting read (no NVML calls) -------------------------

    def readings(self) -> tuple[GpuReading, ...]:
        with self._lock:
            return self._readings

    # ---- the thread -----------------------------------------------------------------------------

    def start(self) -> None:
        if self.available and not self._closed:
            self._loop.start()

    def stop(self) -> None:
        if self._loop.started:
            self._loop.stop(join_seconds=self._settings.sample_interval_seconds + 10)
        if self._nvml is not None and not self._closed:
            with self._sample_lock:
                self._closed = True
                self._nvml.shutdown()

    def _step(self) -> float:
        started = time.monotonic()
        self.sample_once()
        self._log_failed_pass.clear()
        return max(0.0, self._settings.sample_interval_seconds - (time.monotonic() - started))

    def _failed(self, exc: Exception) -> None:  # the sampler outlives any one bad pass
        message = f"{type(exc).__name__}: {exc}"
        self._log_failed_pass(message, "GPU sampler pass failed: %s", message, exc_info=exc)

    # ---- one pass -------------------------------------------------------------------------------

    def sample_once(self) -> None:
        """Read every watched GPU once and publish the readings."""
        if self._nvml is None:
            return
        with self._sample_lock:
            if self._closed:
                return
            now = self._clock()
            readings = self._with_trainer_memory([self._sample(gpu, now) for gpu in self._gpus])
            with self._lock:
                self._readings = readings

    def _sample(self, gpu: WatchedGpu, now: float) -> tuple[GpuReading, Processes | None]:
        recovering = gpu.lost
        try:
            if recovering and not self._reacquire(gpu, now):
                return gpu.lost_reading(), None
            sampled = gpu.read(now)
        except GpuLost as exc:
            self._mark_lost(gpu, now, str(exc))
            return gpu.lost_reading(), None
        if recovering:
            gpu.lost = False
            log.warning("GPU %d (%s) is back", gpu.index, gpu.uuid)
        return sampled

    def _mark_lost(self, gpu: WatchedGpu, now: float, reason: str) -> None:
        gpu.next_recovery = now + RECOVERY_RETRY_SECONDS
        gpu.energy.pause()
        if not gpu.lost:
            gpu.lost = True
            log.warning(
                "GPU %d (%s) is lost (%s): training_gpu_up is 0 for it until NVML answers again",
                gpu.index, gpu.uuid, reason,
            )

    def _reacquire(self, gpu: WatchedGpu, now: float) -> bool:
        """Look for a lost GPU again (every RECOVERY_RETRY_SECONDS); raises GpuLost."""
        if now < gpu.next_recovery:
            return False
        gpu.next_recovery = now + RECOVERY_RETRY_SECONDS
        device = device_by_uuid(self._nvml, gpu.uuid)
        if device is None:
            return False
        gpu.device = device
        gpu.read_static()
        return True

    def _with_trainer_memory(
        self, sampled: list[tuple[GpuReading, Processes | None]]
    ) -> tuple[GpuReading, ...]:
        """Add each GPU's memory used by the trainer, choosing the trainer's processes across all
        GPUs at once so that a GPU without the trainer shows 0, not someone else's memory."""
        pids = {pid for _, processes in sampled for pid, _ in processes or ()}
        settings = self._settings
        chosen = trainer_pids(pids, settings.trainer_pid, settings.trainer_cmdline_match, self._processes)
        readings = []
        for reading, processes in sampled:
            if processes is not None:
                reading = replace(reading, processes=tuple(processes))
                mine = [used for pid, used in processes if pid in chosen]
                known = [used for used in mine if used is not None]
                if known or not mine:
                    reading = replace(reading, trainer_memory_used_bytes=sum(known))
            readings.append(reading)
        return tuple(readings)
