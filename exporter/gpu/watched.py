"""The sampler's own state for one watched GPU, and its reading at one pass."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from exporter.gpu.device import Device
from exporter.gpu.energy_meter import EnergyMeter
from exporter.gpu.reading import GpuReading

Processes = list[tuple[int, int | None]]  # (pid, used bytes or None) of each compute process


@dataclass
class WatchedGpu:
    """A watched GPU: its device, the values read once, its energy and whether it is lost."""

    index: int
    uuid: str
    name: str
    device: Device
    static_values: dict[str, Any] = field(default_factory=dict)
    supported_reasons: int | None = None
    peak_flops: float | None = None
    energy: EnergyMeter = field(default_factory=EnergyMeter)
    lost: bool = False
    next_recovery: float = 0.0

    def read_static(self) -> None:
        """Values that do not change while the driver runs (raises GpuLost)."""
        self.static_values = self.device.static_values()
        self.supported_reasons = self.device.supported_clock_event_reasons()

    def read(self, now: float) -> tuple[GpuReading, Processes | None]:
        """This pass's reading, and the compute processes on the GPU (raises GpuLost)."""
        values = self.device.pass_values(self.supported_reasons)
        counter = None
        if self.energy.method != "integrated":  # a GPU without the counter is not asked again
            counter = self.device.energy_counter_millijoules()
        processes = self.device.compute_processes()
        power_readings = (values["power_watts"], values["power_average_watts"], values["power_instant_watts"])
        self.energy.update(counter, next((w for w in power_readings if w is not None), None), now)
        return self._reading(up=True, **self.static_values, **values), processes

    def identity_reading(self) -> GpuReading:
        """Who the GPU is and what is known without a pass."""
        return self._reading(up=True, **self.static_values)

    def lost_reading(self) -> GpuReading:
        """A GPU that does not answer: down, its energy kept."""
        return self._reading(up=False)

    def _reading(self, **values: Any) -> GpuReading:
        return GpuReading(
            index=self.index,
            uuid=self.uuid,
            name=self.name,
            energy_joules_by_method=self.energy.by_method(),
            peak_flops=self.peak_flops,
            **values,
        )
