"""Benchmark: backfill speed of a large nanoGPT log, exporter RSS after it, /metrics scrape latency.

    python3 benchmarks/backfill.py [--lines 1000000] [--log PATH] [--scrapes 1000]

Without --log it generates a nanoGPT log of --lines lines (log_interval 1, an eval every 2,000
iterations) in a temporary directory. Backfill speed is measured in-process on one core; RSS and
scrape latency on a real `training-exporter serve` process after it has read the whole file.
"""

from __future__ import annotations

import argparse
import http.client
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from exporter.follow import LogFollower  # noqa: E402
from exporter.run import RunModel  # noqa: E402
from exporter.watch import LogWatcher  # noqa: E402
from exporter_process import ExporterProcess  # noqa: E402


def generate(path: Path, lines: int) -> int:
    rng = random.Random(0)
    written = 0
    iteration = 0
    with path.open("w") as f:
        f.write("Overriding config with config/train_gpt2.py:\nmax_iters = 5000000\neval_interval = 2000\n\n")
        while written < lines:
            if iteration % 2000 == 0:
                f.write(f"step {iteration}: train loss 3.1234, val loss 3.2345\nsaving checkpoint to out\n")
                written += 2
            f.write(f"iter {iteration}: loss {3 + rng.random():.4f}, time {170 + rng.random():.2f}ms, mfu 31.52%\n")
            written += 1
            iteration += 1
    return iteration - 1


def backfill_rate(path: Path) -> tuple[float, int]:
    model = RunModel("bench", str(path))
    watcher = LogWatcher(model, LogFollower(str(path)))
    started = time.perf_counter()
    lines = watcher.poll()
    return lines / (time.perf_counter() - started), lines


def rss_megabytes(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def scrape_timings(port: int, count: int) -> list[float]:
    """Milliseconds per GET /metrics with a light client (a fresh connection each, as Prometheus
    without keep-alive), so the figure is the exporter's, not the client library's."""
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        connection.request("GET", "/metrics")
        connection.getresponse().read()
        connection.close()
        timings.append((time.perf_counter() - started) * 1000)
    return sorted(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--log", type=Path, help="an existing log to measure instead of a generated one")
    parser.add_argument("--scrapes", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.log or Path(tmp) / "train.log"
        if args.log is None:
            last = generate(path, args.lines)
            print(f"generated {args.lines:,} lines ({path.stat().st_size / 1e6:.0f} MB), last iteration {last:,}")
        rate, lines = backfill_rate(path)
        print(f"backfill: {lines:,} lines at {rate:,.0f} lines/s (one core, in-process)")

        with ExporterProcess("--log", str(path), "--run", "bench") as exporter:
            started = time.perf_counter()
            text = exporter.wait_for('training_state{run="bench",state="starting"} 0.0', timeout=600)
            while "training_iteration{" not in text or (args.log is None and f" {last}.0" not in text):
                time.sleep(0.2)
                text = exporter.scrape()
            print(f"serve process: whole file read {time.perf_counter() - started:.1f} s after start")
            print(f"exporter RSS after the backfill: {rss_megabytes(exporter.process.pid):.1f} MB")
            timings = scrape_timings(exporter.port, args.scrapes)
            p50 = statistics.median(timings)
            p99 = timings[int(len(timings) * 0.99) - 1]
            print(f"/metrics scrape over HTTP: p50 {p50:.2f} ms, p99 {p99:.2f} ms ({args.scrapes} scrapes)")


if __name__ == "__main__":
    main()
