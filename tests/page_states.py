"""The live page in each state a run can be in, served in-process from made-up snapshots (no log,
no GPU): for the browser tests' layout checks at several screen sizes and for
scripts/page_screenshot.py. Each state has a history of 1,300 iterations, two GPUs (or none), energy,
and, for the sweep, three runs one of which crashed."""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from types import SimpleNamespace
from typing import Iterator

from prometheus_client import CollectorRegistry

from exporter import web
from exporter.gpu import GpuReading
from exporter.health import LearningHealth, Spike, SpikeReport
from exporter.health.slowdown import SlowdownView
from exporter.run import RunSnapshot
from exporter.server.http_server import MetricsServer
from exporter.web.api import RunApi

NOW = 1_800_000_000.0
COLOUR = {"running": "63,185,80", "stalled": "227,179,65", "crashed": "248,81,73", "finished": "163,113,247",
          "waiting": "88,166,255"}  # the favicon's centre, by state (as the page's COLOURS)
GIB = 2**30
OOM = ("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity "
       "of 23.64 GiB of which 1.12 GiB is free.")
RUNNING = RunSnapshot(
    run="gpt-40m-shakespeare", format="nanogpt", log_path="/runs/gpt-40m/train.log", state="running",
    iteration=7_400, max_iterations=20_000, progress_ratio=0.37, loss=3.412, eval_losses={"val": 3.521},
    best_val_loss=3.521, iteration_seconds=0.171, evals_left=25, tokens_per_second=191_600.0, mfu_ratio=0.312,
    eta_seconds=15_120.0, eta_low_seconds=14_400.0, eta_high_seconds=16_300.0, expected_end_timestamp=NOW + 15_120,
    elapsed_seconds=8_900.0, last_progress_timestamp=NOW - 4, progress_timeout_seconds=360.0, evals=15,
)
STATES = {
    "running": RUNNING,
    "stalled": replace(RUNNING, state="stalled", reason="no progress for 14 min (timeout 6 min)",
                       last_progress_timestamp=NOW - 840),
    "crashed": replace(RUNNING, state="crashed", reason=OOM, errors={"oom": 1, "traceback": 1},
                       last_progress_timestamp=NOW - 20),
    "finished": replace(RUNNING, state="finished", reason="finished at iteration 20,000", iteration=20_000,
                        progress_ratio=1.0, eta_seconds=0.0, eta_low_seconds=0.0, eta_high_seconds=0.0,
                        elapsed_seconds=24_100.0, evals_left=0, last_progress_timestamp=NOW - 3_600),
    "waiting": RunSnapshot(run="gpt-40m-shakespeare", format="unknown", log_path="/runs/gpt-40m/train.log",
                           state="waiting", reason="waiting for the log /runs/gpt-40m/train.log"),
}
SPIKE = Spike(5_200, 4.9, 1.6, 3.1)
# what the health detectors found: one loss spike, a thermal slowdown of 18 % since iteration 6,900
LEARNING = LearningHealth(loss=SpikeReport(spikes=1, last=SPIKE, baseline=3.1, recent=(SPIKE,)))
SLOWDOWN = SlowdownView(baseline_seconds=0.170, slow_level_seconds=0.2006, slow_for_seconds=420.0,
                        slow_since_iteration=6_900)


@dataclass
class FakeEnergy:
    """What the page reads of a run's energy: a run that used ``joules`` at ``watts``."""

    joules: float
    watts: float | None
    known: bool = True
    settings: SimpleNamespace = field(default_factory=lambda: SimpleNamespace(currency="EUR", price_per_kwh=0.30,
                                                                              other_watts=80.0, budget=None))

    def figures(self, snapshot: RunSnapshot) -> SimpleNamespace:
        eta = snapshot.eta_seconds if snapshot.state == "running" else None
        projected = None if eta is None or self.watts is None else self.joules + self.watts * eta
        return SimpleNamespace(joules=self.joules, power_watts=self.watts, projected_joules=projected)

    def cost(self, joules: float) -> float:
        return joules / 3.6e6 * self.settings.price_per_kwh

    def emissions_grams(self, joules: float) -> None:
        return None


def gpus() -> list[GpuReading]:
    def gpu(index: int, power: float, temperature: float, events: dict[str, bool]) -> GpuReading:
        return GpuReading(index=index, uuid=f"GPU-{index}", name="NVIDIA GeForce RTX 4090", power_watts=power,
                          power_limit_watts=450.0, temperature_celsius=temperature,
                          temperature_thresholds_celsius={"slowdown": 92.0, "shutdown": 100.0},
                          memory_used_bytes=17 * GIB, memory_total_bytes=24 * GIB, utilization_ratio=0.98,
                          clock_events_active=events)
    return [gpu(0, 402.0, 71.0, {"sw_power_cap": False}), gpu(1, 441.0, 89.0, {"sw_power_cap": True,
                                                                                "sw_thermal_slowdown": True})]


def history(api: RunApi, last: int) -> None:
    """A loss curve with evals every 500 iterations and one spike, a point every 10 iterations."""
    for iteration in range(0, last + 1, 10):
        loss = 3.3 + 7.6 * math.exp(-iteration / 900) + 0.05 * math.sin(iteration / 37)
        loss += 1.4 if iteration == 5_200 else 0.0
        val = 3.42 + 7.6 * math.exp(-(iteration // 500 * 500) / 900)
        step = 0.171 if iteration < 6_900 else 0.202
        api.history.add("r", (NOW - (last - iteration) * 1.2, iteration, loss, val, step, 843.0))


class StatePages(web.RunPages):
    """Pages whose runs have a made-up history instead of one read back from a log."""

    def __init__(self, entries, points: dict[str, int], **kwargs) -> None:
        super().__init__(lambda: entries, **kwargs)
        self._points = points

    def _api(self, entry) -> RunApi:
        api = super()._api(entry)
        if entry.name in self._points:
            history(api, self._points[entry.name])
        return api


def pages(state: str, *, with_gpus: bool = True, health: bool = False, energy_known: bool = True,
          more_crashed: int = 0) -> web.RunPages:
    """The pages of ``state`` (one of :data:`STATES`, or ``sweep``: three runs, one crashed);
    ``health``: the health detectors' findings in the snapshot; ``energy_known``: false for a run
    that ended before the exporter saw it, with no state file; ``more_crashed``: more crashed runs
    in the sweep."""
    if state == "sweep":
        runs = {"sweep-lr-3e-4": replace(RUNNING, run="sweep-lr-3e-4"),
                "sweep-lr-6e-4": replace(STATES["crashed"], run="sweep-lr-6e-4", iteration=2_100, progress_ratio=0.105),
                "sweep-lr-1e-3": replace(RUNNING, run="sweep-lr-1e-3", iteration=5_000, progress_ratio=0.25,
                                         last_progress_timestamp=NOW - 30)}
        runs.update({f"sweep-extra-{n}": replace(STATES["crashed"], run=f"sweep-extra-{n}", progress_ratio=0.01 * n)
                     for n in range(more_crashed)})
        alerts = {"sweep-lr-6e-4": [{"name": "TrainingCrashed", "severity": "critical", "since": NOW - 60,
                                     "summary": "Run sweep-lr-6e-4 crashed: CUDA out of memory"}]}
    else:
        snapshot = STATES[state]
        if health:
            snapshot = replace(snapshot, learning=LEARNING, slowdown=SLOWDOWN)
        runs, alerts = {snapshot.run: snapshot}, {}
        if state in ("crashed", "stalled"):
            alerts = {snapshot.run: [{"name": f"Training{state.title()}", "severity": "critical",
                                      "summary": f"Run {snapshot.run} {state}: {snapshot.reason}", "since": NOW - 60}]}
    energy = FakeEnergy(45e6, 843.0, known=energy_known)
    entries = [SimpleNamespace(name=name, snapshot=lambda s=s: s, energy=None if s.state == "waiting" else energy,
                               slowdown=SimpleNamespace(cause="thermal" if health else None),
                               checkpoints=SimpleNamespace(status=lambda s: (None,)))
               for name, s in runs.items()]
    points = {name: s.iteration for name, s in runs.items() if s.iteration is not None}
    return StatePages(entries, points, readings=gpus if with_gpus else tuple,
                      gpu_error=None if with_gpus else "NVML Shared Library Not Found: libnvidia-ml.so.1: cannot "
                      "open shared object file\nis the NVIDIA driver installed?",
                      alerts=lambda run: lambda: alerts.get(run, []), clock=lambda: NOW)


@contextmanager
def serve(state_pages: web.RunPages) -> Iterator[str]:
    """The pages on a free port of 127.0.0.1: their URL."""
    server = MetricsServer(CollectorRegistry(), "127.0.0.1", 0, routes=web.routes(state_pages)).start()
    try:
        yield f"http://127.0.0.1:{server.port}/"
    finally:
        server.stop()


def shown_state(state: str) -> str:
    """The state the page's badge shows for ``state`` (the sweep shows its most recently active run)."""
    return "running" if state == "sweep" else state
