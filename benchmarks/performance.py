"""Performance of the exporter beside references measured in the same run: CPU time of a backfill
(against a pure-Python limit loop and mtail; with the health detectors and without them), memory
after it, /metrics latency over HTTP with no GPU and with 8 fake GPUs (against mtail's), and the
CPU taken while following a live log.

    python3 benchmarks/performance.py [--lines 1000000] [--repeats 5] [--scrapes 500]
                                      [--follow-seconds 60] [--follow-windows 3] [--health-only]

The logs are generated in a temporary directory. Every figure is measured ``--repeats`` times,
contenders in turn, and printed as its min and median and as a ratio of medians against each
reference (above 1: better than the reference). mtail (``/usr/bin/mtail``, Debian package mtail)
runs ``benchmarks/mtail/nanogpt.mtail``, which reads what the exporter reads from a nanoGPT log;
its columns are left out, with a line saying so, where it is not installed.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import sys
import time
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "benchmarks")]

from exporter.log.follow import CHUNK_BYTES, LogFollower  # noqa: E402
from exporter.formats import nanogpt  # noqa: E402
from exporter.run import RunModel, learning  # noqa: E402
from exporter.log.watch import LogWatcher  # noqa: E402
from logs import count_lines, write_log  # noqa: E402
from measure import child_cpu_seconds, cpu_seconds, interleaved, table  # noqa: E402
import serving  # noqa: E402

MTAIL = shutil.which("mtail")
MTAIL_PROGRAMS = REPO / "benchmarks" / "mtail"
EXPORTER, LIMIT, MTAIL_NAME = "exporter, in-process", "pure-Python limit loop", "mtail"


def exporter_backfill(path: Path) -> None:
    """What ``serve`` does with an existing log: read it all, apply it, publish snapshots."""
    LogWatcher(RunModel("bench", str(path)), LogFollower(str(path))).poll()


def limit_loop(path: Path) -> None:
    """The least a Python reader of the log can do: read it in chunks, split the lines, match one
    compiled pattern (nanoGPT's progress line) and convert its numbers."""
    match = re.compile(nanogpt.PROGRESS.pattern).match
    tail = b""
    with path.open("rb") as f:
        while data := f.read(CHUNK_BYTES):
            end = data.rfind(b"\n") + 1
            text, tail = (tail + data[:end]).decode(), data[end:]
            for line in text.split("\n"):
                if (found := match(line)) is not None:
                    iteration, loss, milliseconds, mfu = found.groups()
                    int(iteration), float(loss), float(milliseconds)
                    if mfu is not None:
                        float(mfu)


def mtail_backfill(path: Path) -> float:
    return child_cpu_seconds([MTAIL, "-one_shot", "-one_shot_format", "prometheus", "-progs", str(MTAIL_PROGRAMS),
                              "-logs", str(path), "-logtostderr"])


def backfill(title: str, path: Path, repeats: int) -> dict[str, float]:
    lines = count_lines(path)
    contenders = {
        EXPORTER: lambda: lines / cpu_seconds(lambda: exporter_backfill(path)),
        LIMIT: lambda: lines / cpu_seconds(lambda: limit_loop(path)),
        "status, whole process": lambda: lines / child_cpu_seconds(
            [sys.executable, "-m", "exporter", "status", str(path)], cwd=REPO),
    }
    if MTAIL:
        contenders[MTAIL_NAME] = lambda: lines / mtail_backfill(path)
    figures = interleaved(contenders, repeats)
    return table(f"{title}: {lines:,} lines, lines per CPU second", figures, "lines/s",
                 references=(LIMIT, MTAIL_NAME), higher_is_better=True)


class _NoHealth(learning.LearningFeed):
    """The health detectors left out: what the backfill costs without them."""

    def train(self, iteration, loss, grad_norm=None) -> None:
        pass

    def trained(self, iterations, losses, grad_norms) -> None:
        pass

    def evaluation(self, iteration, losses) -> None:
        pass


class _TimedHealth(learning.LearningFeed):
    """The health detectors with their own CPU time counted, call by call (the fast path calls them
    once per run of progress lines, so the clock reads cost little)."""

    cpu_ns = 0

    def train(self, iteration, loss, grad_norm=None) -> None:
        started = time.process_time_ns()
        super().train(iteration, loss, grad_norm)
        _TimedHealth.cpu_ns += time.process_time_ns() - started

    def trained(self, iterations, losses, grad_norms) -> None:
        started = time.process_time_ns()
        super().trained(iterations, losses, grad_norms)
        _TimedHealth.cpu_ns += time.process_time_ns() - started

    def evaluation(self, iteration, losses) -> None:
        started = time.process_time_ns()
        super().evaluation(iteration, losses)
        _TimedHealth.cpu_ns += time.process_time_ns() - started

    def report(self):
        started = time.process_time_ns()
        report = super().report()
        _TimedHealth.cpu_ns += time.process_time_ns() - started
        return report


def _own_share(path: Path) -> float:
    """The detectors' own CPU time over the whole backfill's, in one backfill."""
    feed, learning.LearningFeed, _TimedHealth.cpu_ns = learning.LearningFeed, _TimedHealth, 0
    try:
        total = cpu_seconds(lambda: exporter_backfill(path))
    finally:
        learning.LearningFeed = feed
    return _TimedHealth.cpu_ns / 1e9 / total


def _without_health() -> None:
    feed, learning.LearningFeed = learning.LearningFeed, _NoHealth
    try:
        exporter_backfill(_without_health.path)
    finally:
        learning.LearningFeed = feed


def health_overhead(path: Path, repeats: int) -> None:
    """CPU time of the backfill with the health detectors and without them, taking turns."""
    _without_health.path = path
    with_health, without = "backfill, health detectors on", "backfill, health detectors left out"
    figures = interleaved({with_health: lambda: cpu_seconds(lambda: exporter_backfill(path)),
                           without: lambda: cpu_seconds(_without_health)}, repeats)
    medians = table(f"Health detectors in the backfill of a nanoGPT log: {count_lines(path):,} lines, CPU seconds",
                    figures, "s", references=(without,), higher_is_better=False)
    share = min(figures[with_health]) / min(figures[without]) - 1
    print(f"  the detectors add {medians[with_health] / medians[without] - 1:+.1%} (medians), {share:+.1%} (mins)")
    shares = [_own_share(path) for _ in range(repeats)]
    print(f"  the detectors' own CPU time, counted call by call: {min(shares):.1%} to {max(shares):.1%} of the "
          f"backfill's (median {statistics.median(shares):.1%})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--scrapes", type=int, default=500, help="scrapes of each endpoint per round")
    parser.add_argument("--follow-seconds", type=float, default=60.0, help="length of one window of the live log")
    parser.add_argument("--follow-windows", type=int, default=3)
    parser.add_argument("--health-only", action="store_true", help="only the health detectors' share of the backfill")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # each figure shows up as soon as it is measured
    if not MTAIL:
        print("mtail is not installed (Debian package mtail): its reference columns are left out")
    with tempfile.TemporaryDirectory() as tmp:
        clean, noisy = Path(tmp) / "train.log", Path(tmp) / "noisy.log"
        write_log(clean, args.lines)
        health_overhead(clean, args.repeats)
        if args.health_only:
            return
        write_log(noisy, args.lines, noisy=True)
        backfill("Backfill of a nanoGPT log", clean, args.repeats)
        backfill("Backfill of a noisy nanoGPT log (half of its lines other output)", noisy, args.repeats)
        serving.scrapes(Path(tmp), clean, args.repeats, args.scrapes, MTAIL, MTAIL_PROGRAMS)
        serving.follow(Path(tmp), args.follow_seconds, args.follow_windows, MTAIL, MTAIL_PROGRAMS)


if __name__ == "__main__":
    main()
