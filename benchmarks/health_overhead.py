"""What the health detectors add to a backfill: CPU time of the exporter's backfill of the
1M-line benchmark log (benchmarks/logs.py, as benchmarks/performance.py measures it) with the
slowdown detector, against the same backfill with the detector's two entry points made no-ops,
measured in turn in the same run.

    python3 benchmarks/health_overhead.py [--lines 1000000] [--repeats 5]

Two logs: the benchmark's healthy one (the detector's bulk path), and the same with every step
40 % slower from the middle on. On a shared machine the two backfills' difference is within the
noise, so the detector is also timed alone: the very calls a backfill makes to it (recorded once)
replayed into a fresh detector, as a share of the backfill's CPU time."""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "benchmarks")]

from exporter.health.slowdown import SegmentSlowdown  # noqa: E402
from exporter.log.follow import LogFollower  # noqa: E402
from exporter.log.watch import LogWatcher  # noqa: E402
from exporter.run import RunModel  # noqa: E402
from logs import count_lines, write_log  # noqa: E402
from measure import cpu_seconds, interleaved, table  # noqa: E402

WITH, WITHOUT = "with the slowdown detector", "detector entry points as no-ops"
_TIME = re.compile(r"time (\d+\.\d+)ms")


def backfill(path: Path) -> None:
    LogWatcher(RunModel("bench", str(path)), LogFollower(str(path))).poll()


def without_detector(path: Path) -> None:
    add, add_all = SegmentSlowdown.add, SegmentSlowdown.add_all
    SegmentSlowdown.add = SegmentSlowdown.add_all = lambda self, *args: None
    try:
        backfill(path)
    finally:
        SegmentSlowdown.add, SegmentSlowdown.add_all = add, add_all


def recorded_calls(path: Path) -> list[tuple[str, tuple]]:
    """The calls a backfill of ``path`` makes to the detector, with copies of their arguments."""
    calls: list[tuple[str, tuple]] = []
    add, add_all = SegmentSlowdown.add, SegmentSlowdown.add_all
    inside = [False]  # add_all's own calls of add are not the backfill's

    def record(name, method):
        def recording(self, *args):
            if inside[0]:
                return method(self, *args)
            calls.append((name, tuple(list(a) if isinstance(a, list) else a for a in args)))
            inside[0] = True
            try:
                return method(self, *args)
            finally:
                inside[0] = False
        return recording

    SegmentSlowdown.add, SegmentSlowdown.add_all = record("add", add), record("add_all", add_all)
    try:
        backfill(path)
    finally:
        SegmentSlowdown.add, SegmentSlowdown.add_all = add, add_all
    return calls


def replay(calls: list[tuple[str, tuple]]) -> None:
    detector = SegmentSlowdown()
    for name, args in calls:
        getattr(detector, name)(*args)


def slowed(source: Path, target: Path) -> None:
    """``source`` with every step time 40 % longer in its second half."""
    lines = source.read_text().splitlines(keepends=True)
    half = len(lines) // 2
    with target.open("w") as f:
        f.writelines(lines[:half])
        f.writelines(_TIME.sub(lambda m: f"time {float(m[1]) * 1.4:.2f}ms", line) for line in lines[half:])


def measure(title: str, path: Path, repeats: int) -> None:
    lines, calls = count_lines(path), recorded_calls(path)
    alone = f"the detector alone ({len(calls):,} calls)"
    figures = interleaved({WITH: lambda: cpu_seconds(lambda: backfill(path)),
                           WITHOUT: lambda: cpu_seconds(lambda: without_detector(path)),
                           alone: lambda: cpu_seconds(lambda: replay(calls))}, repeats)
    medians = table(f"{title}: {lines:,} lines, CPU seconds", figures, "s", references=(WITHOUT,),
                    higher_is_better=False)
    print(f"  backfill with / without the detector: {(medians[WITH] / medians[WITHOUT] - 1) * 100:+.1f} % (medians); "
          f"the detector alone: {medians[alone] / medians[WITH] * 100:.2f} % of the backfill's CPU time (medians)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    with tempfile.TemporaryDirectory() as tmp:
        healthy, slow = Path(tmp) / "train.log", Path(tmp) / "slow.log"
        write_log(healthy, args.lines)
        slowed(healthy, slow)
        measure("Backfill of the benchmark's nanoGPT log", healthy, args.repeats)
        measure("Backfill of the same log, 40 % slower from its middle", slow, args.repeats)


if __name__ == "__main__":
    main()
