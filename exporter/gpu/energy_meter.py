"""A GPU's energy since the exporter started: NVML's counter where there is one, else integrated power."""

from __future__ import annotations

_MILLI = 1e-3


class EnergyMeter:
    """Energy since start, from NVML's counter (mJ) or, where there is none, integrated power."""

    def __init__(self) -> None:
        self.method: str | None = None  # "counter" or "integrated", once known
        self._joules = 0.0
        self._last_counter_mj: int | None = None
        self._last_power: tuple[float, float] | None = None  # (watts, time)

    @property
    def joules(self) -> float | None:
        return None if self.method is None else self._joules

    def by_method(self) -> dict[str, float]:
        """``{method: joules}``, empty while neither the counter nor the power has answered."""
        return {} if self.method is None else {self.method: self._joules}

    def update(self, counter_mj: int | None, watts: float | None, now: float) -> None:
        if self.method is None:
            if counter_mj is not None:
                self.method = "counter"
            elif watts is not None:
                self.method = "integrated"
            else:
                return
        if self.method == "counter":
            self._count(counter_mj)
        else:
            self._integrate(watts, now)

    def pause(self) -> None:
        """The GPU stopped answering: do not integrate power across the gap."""
        self._last_power = None

    def _count(self, counter_mj: int | None) -> None:
        if counter_mj is None:
            return
        if self._last_counter_mj is not None and counter_mj >= self._last_counter_mj:
            self._joules += (counter_mj - self._last_counter_mj) * _MILLI
        # a counter that went backwards (driver reloaded) becomes the new baseline
        self._last_counter_mj = counter_mj

    def _integrate(self, watts: float | None, now: float) -> None:
        """Trapezoids, one per sampler pass."""
        if watts is not None and self._last_power is not None:
            last_watts, last_time = self._last_power
            self._joules += (last_watts + watts) / 2 * max(0.0, now - last_time)
        self._last_power = None if watts is None else (watts, now)
