"""Generated runs with an event injected at a known iteration, played through the exporter's own
parts on a simulated clock: a nanoGPT log followed live (each line arriving when the trainer would
print it), a stand-in NVML library (tests/fake_nvml.py) sampled at each tick, the slowdown
evidence as the serve loop keeps it, the alert engine, and the collectors' exposition."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from prometheus_client.core import Metric

from exporter.alerts.engine import AlertEngine
from exporter.alerts.operations import Operations
from exporter.collectors.base import CollectorStats
from exporter.collectors.health import SlowdownCollector
from exporter.collectors.training import TrainingCollector
from exporter.gpu import GpuSettings, open_telemetry
from exporter.health.slowdown_cause import SlowdownEvidence
from exporter.run import RunModel
from fake_nvml import FakeGpu, FakeNvml
from test_alerts_engine import Heard

T0 = 1_800_000_000.0
TRAINER_PID = 4242


def nanogpt_lines(step_seconds: Callable[[int], float], last: int, log_interval: int = 10,
                  eval_interval: int = 500, eval_seconds: float = 20.0) -> list[tuple[float, str]]:
    """(training seconds when printed, line) of a nanoGPT run: iteration times from
    ``step_seconds(iteration)``; an eval (and its save) every ``eval_interval``, whose time
    nanoGPT counts into that iteration's own time."""
    lines = [(0.0, "Overriding: max_iters = %d" % last), (0.0, f"Overriding: eval_interval = {eval_interval}"),
             (0.0, f"Overriding: log_interval = {log_interval}")]
    clock = 0.0
    for iteration in range(last + 1):
        took = step_seconds(iteration)
        if iteration % eval_interval == 0:
            lines.append((clock, f"step {iteration}: train loss 3.1000, val loss 3.2000"))
            if iteration:
                lines.append((clock, "saving checkpoint to out"))
            took += eval_seconds
        clock += took
        if iteration % log_interval == 0:
            lines.append((clock, f"iter {iteration}: loss 3.0000, time {took * 1000:.2f}ms, mfu 30.00%"))
    return lines


@dataclass
class Scenario:
    """A run whose step time is ``base`` seconds, ``factor`` times that from iteration ``slow_from``
    on, and whose GPU ``change(gpu, slow)`` sets when the slowdown begins."""

    base: float = 0.4
    factor: float = 1.4
    slow_from: int = 1000
    last: int = 5000
    play_until: int = 2600
    change: Callable[[FakeGpu, bool], None] = lambda gpu, slow: None
    tick_seconds: float = 15.0
    heard: Heard = field(default_factory=Heard)
    ticks: list[tuple[float, int, list[Metric]]] = field(default_factory=list)  # (time, iteration, exposition)

    def step(self, iteration: int) -> float:
        return self.base * (self.factor if iteration >= self.slow_from else 1.0)

    def play(self) -> Scenario:
        lines = [(t, line) for t, line in nanogpt_lines(self.step, self.last)]
        gpu = FakeGpu(uuid="GPU-0", processes=[(TRAINER_PID, 18 * 2**30)])
        telemetry = open_telemetry(GpuSettings(trainer_pid=TRAINER_PID), FakeNvml([gpu]), environ={})
        model, evidence = RunModel("gpt2", "train.log"), SlowdownEvidence()
        engine = AlertEngine(notifier=self.heard)
        stats = CollectorStats()
        collectors = (TrainingCollector(stats), SlowdownCollector(stats, lambda: evidence.cause))
        at, now = 0, 0.0
        while True:
            now += self.tick_seconds
            while at < len(lines) and lines[at][0] <= now:
                model.feed_line(lines[at][1], T0 + lines[at][0])
                at += 1
            snapshot = model.snapshot(T0 + now)
            if snapshot.iteration is not None and snapshot.iteration >= self.play_until:
                return self
            self.change(gpu, snapshot.iteration is not None and snapshot.iteration >= self.slow_from)
            telemetry.sample_once()
            readings = telemetry.readings()
            evidence.observe(snapshot.slowdown.slow_for_seconds > 0, readings, T0 + now)
            engine.tick(snapshot, readings, T0 + now, Operations(evidence.cause))
            families = [f for c in collectors for f in c.collect(snapshot)]
            self.ticks.append((now, snapshot.iteration or 0, families))

    def fired(self, name: str = "TrainingSlowdown") -> list:
        return [n for n in self.heard.notifications if n.alert.name == name and n.status == "firing"]

    def first_fired_iteration(self, name: str = "TrainingSlowdown") -> int | None:
        fired = self.fired(name)
        if not fired:
            return None
        return next(iteration for now, iteration, _ in self.ticks if T0 + now >= fired[0].at)


def thermal(gpu: FakeGpu, slow: bool) -> None:
    gpu.active_reasons = 0x4 | (0x20 if slow else 0)  # sw_power_cap always, sw_thermal_slowdown when slow


def second_process(gpu: FakeGpu, slow: bool) -> None:
    gpu.processes = [(TRAINER_PID, 18 * 2**30)] + ([(5151, 3 * 2**30)] if slow else [])


def utilisation_falls(gpu: FakeGpu, slow: bool) -> None:
    gpu.utilization_gpu = 62 if slow else 97


def schedule(gpu: FakeGpu, slow: bool) -> None:
    """The trainer's own heavier steps: the GPU stays as busy, not throttled, not shared."""
