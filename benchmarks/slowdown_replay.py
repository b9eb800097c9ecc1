"""False alarms on healthy runs: real logs replayed live, line by line, through the run model, the
slowdown evidence and the alert engine; prints each log's baseline, its largest slow stretch and
the alerts raised.

    python3 benchmarks/slowdown_replay.py [LOG ...] [--stretch K] [--gpu none|steady] [--json]

Each line arrives when the trainer's own clock says it was printed (the times it prints,
multiplied by ``--stretch``: K=100 plays a 2-minute run's schedule over 3 hours); the alert engine
is evaluated every 15 s of that clock and at the end, as the serve loop would. ``--gpu steady``
adds one GPU that stays as busy as it was (97 %, the usual power cap, the trainer's process
alone): what NVML shows while a trainer's own schedule makes its steps heavier. No energy is
counted, so no budget alert can fire; no checkpoint directory is read. Without LOG arguments the
logs in ../shared/real-logs/ are replayed when that folder exists.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from exporter.alerts.engine import FIRING, AlertEngine  # noqa: E402
from exporter.alerts.operations import Operations  # noqa: E402
from exporter.gpu.reading import GpuReading  # noqa: E402
from exporter.health.slowdown_cause import SlowdownEvidence  # noqa: E402
from exporter.run import RunModel  # noqa: E402

T0 = 1_800_000_000.0
TICK_SECONDS = 15.0
REAL_LOGS = REPO.parent / "shared" / "real-logs"
STEADY_GPU = GpuReading(index=0, uuid="GPU-replay", name="replay", utilization_ratio=0.97,
                        clock_events_active={"sw_power_cap": True, "sw_thermal_slowdown": False},
                        processes=((4242, 18 * 2**30),))
_MILLISECONDS = re.compile(r"(\d+(?:\.\d+)?)ms")


class _Heard:
    def __init__(self) -> None:
        self.fired: list[str] = []

    def notify(self, notification) -> None:
        if notification.status == FIRING:
            self.fired.append(notification.alert.name + "".join(f"{{{k}={v}}}" for k, v in notification.alert.labels))

    def counts(self) -> tuple[int, int]:
        return len(self.fired), 0

    def stop(self) -> None:
        pass


def stretched(line: str, factor: float) -> str:
    """``line`` with every ``<number>ms`` (nanoGPT's and modded-nanogpt's times) ``factor`` times longer."""
    if factor == 1.0:
        return line
    return _MILLISECONDS.sub(lambda m: f"{float(m[1]) * factor:.2f}ms", line)


def replay(path: Path, stretch: float = 1.0, gpu: bool = False) -> dict:
    model, evidence, heard = RunModel(path.stem, str(path)), SlowdownEvidence(), _Heard()
    engine = AlertEngine(notifier=heard, repeat_seconds=0)
    readings = (STEADY_GPU,) if gpu else ()
    next_tick, largest = T0, 0.0

    def tick(now: float) -> None:
        snapshot = model.snapshot(now)
        evidence.observe(snapshot.slowdown.slow_for_seconds > 0, readings, now)
        engine.tick(snapshot, readings, now, Operations(evidence.cause))

    with path.open(encoding="utf-8", errors="replace") as log:
        for line in log:
            now = T0 + model.timing.elapsed
            while next_tick <= now:
                tick(next_tick)
                next_tick += TICK_SECONDS
            model.feed_line(stretched(line.rstrip("\n"), stretch), now)
            largest = max(largest, model.snapshot(now).slowdown.ratio or 0.0)
    tick(T0 + model.timing.elapsed + 1.0)
    view = model.snapshot(T0 + model.timing.elapsed).slowdown
    return {"log": path.name, "stretch": stretch, "gpu": "steady" if gpu else "none",
            "training_seconds": round(model.timing.elapsed, 1),
            "baseline_ms": None if view.baseline_seconds is None else round(view.baseline_seconds * 1000, 2),
            "largest_slow_ratio": round(largest, 2) if largest else None,
            "alerts": sorted(set(heard.fired))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("logs", nargs="*", type=Path)
    parser.add_argument("--stretch", type=float, default=1.0)
    parser.add_argument("--gpu", choices=("none", "steady"), default="none")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    logs = args.logs or sorted(REAL_LOGS.glob("*.log"))
    results = [replay(path, args.stretch, args.gpu == "steady") for path in logs]
    if args.json:
        print(json.dumps(results, indent=1))
        return 0
    print("| log | stretch | GPU | training time | baseline | largest slow / baseline | alerts raised |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['log']} | ×{r['stretch']:g} | {r['gpu']} | {r['training_seconds']:.0f} s | "
              f"{'–' if r['baseline_ms'] is None else str(r['baseline_ms']) + ' ms'} | "
              f"{r['largest_slow_ratio'] or '–'} | {', '.join(r['alerts']) or 'none'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
