"""Many runs in one exporter: the CPU, memory and /metrics latency of ``serve`` following a glob
over a directory of past runs (100, 300 and 1,000 idle logs), and 100 runs of which 5 grow, beside
a reference measured in the same run (the same exporter following one idle log). The idle logs
were last written a day before: finished runs, and runs stopped part-way (stalled).

    python3 benchmarks/scale.py [--runs 100,300,1000] [--growing 5:100] [--seconds 60] [--repeats 3]
                                [--scrapes 40]

Each contender is a fresh ``serve`` process (default poll interval) on its own directory of
generated nanoGPT logs (half of them finished, half stopped part-way). Once every run is in
/metrics and a settling pause has passed, its CPU (the scheduler's run time of every thread, see
``measure.process_cpu_seconds``) is taken over a window of ``--seconds`` while it is scraped every
15 s as Prometheus does; then ``--scrapes`` scrapes back to back give the latency's p50 and p99;
then its RSS. Contenders run in turn, ``--repeats`` rounds, and each figure is printed as its min
and median and as a ratio against the one-run reference (above 1: better than it). The machine's
load average and a fixed pure-Python workload's wall / CPU time are printed with each round: on a
shared machine they say how loaded it was.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "benchmarks")]

from exporter_process import ExporterProcess  # noqa: E402
from logs import LiveLog  # noqa: E402
from measure import cpu_seconds, process_cpu_seconds, rss_megabytes, table  # noqa: E402
from serving import Endpoint  # noqa: E402


class SlowEndpoint(Endpoint):
    """An endpoint given as long as Prometheus would give it and more: a slow scrape is a figure,
    not a failure of the benchmark."""

    def get(self) -> bytes:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            connection.request("GET", "/metrics")
            return connection.getresponse().read()
        finally:
            connection.close()

SCRAPE_INTERVAL = 15.0  # Prometheus' default in prometheus/prometheus.yml
SETTLE_SECONDS = 10.0  # after every run is in /metrics, before the window
GROW_RATE = 1.0  # progress lines per second of each growing log (nanoGPT at log_interval 10, ~0.1 s a step)
REFERENCE = "1 idle run"
MAX_ITERS = 5000


def past_run(path: Path, finished: bool, age_seconds: float = 86_400.0) -> None:
    """A nanoGPT log of a run that is over, last written ``age_seconds`` ago: to its ``max_iters``
    or stopped part-way."""
    path.parent.mkdir(parents=True, exist_ok=True)
    last = MAX_ITERS if finished else MAX_ITERS // 3
    lines = ["Overriding config with config/train.py:", f"max_iters = {MAX_ITERS}", "eval_interval = 1000",
             "log_interval = 10", "", "tokens per iteration will be: 32,768", "number of parameters: 40.56M"]
    for iteration in range(0, last + 1, 10):
        if iteration % 1000 == 0:
            lines += [f"step {iteration}: train loss 3.1234, val loss 3.2345", "saving checkpoint to out"]
        lines.append(f"iter {iteration}: loss 3.{iteration % 97:02d}, time 170.{iteration % 89:02d}ms, mfu 31.52%")
    path.write_text("\n".join(lines) + "\n")
    written = time.time() - age_seconds
    os.utime(path, (written, written))


class Contender:
    """``runs`` logs in a directory of their own, ``growing`` of them written while measured."""

    def __init__(self, work: Path, runs: int, growing: int = 0) -> None:
        self.runs, self.growing = runs, growing
        self.name = (f"{runs} idle run{'s' if runs > 1 else ''}" if not growing
                     else f"{runs} runs, {growing} growing")
        self.folder = work / self.name.replace(" ", "-").replace(",", "")
        for n in range(runs - growing):
            past_run(self.folder / f"run{n:04d}" / "train.log", finished=n % 2 == 0)
        self.live = [self.folder / f"live{n}" / "train.log" for n in range(growing)]

    def measure(self, seconds: float, scrapes: int) -> dict[str, float]:
        stop, writers = threading.Event(), []
        for path in self.live:
            path.parent.mkdir(exist_ok=True)
            writer = threading.Thread(target=LiveLog(path, GROW_RATE).write_until, args=(stop,), daemon=True)
            writer.start()
            writers.append(writer)
        try:
            with ExporterProcess("--log", str(self.folder / "*" / "train.log"), "--poll-interval-seconds", "1") as p:
                endpoint = SlowEndpoint(self.name, p.process.pid, p.port)
                started = time.monotonic()
                _wait_for_runs(endpoint, self.runs)
                ready = time.monotonic() - started
                time.sleep(SETTLE_SECONDS)
                cpu = _cpu_percent(endpoint, seconds)
                latencies = endpoint.latencies_ms(scrapes)
                size = len(endpoint.get())
                return {"cpu": cpu, "p50": _percentile(latencies, 0.5), "p99": _percentile(latencies, 0.99),
                        "rss": rss_megabytes(endpoint.pid), "ready": ready, "kB": size / 1000}
        finally:
            stop.set()
            for writer in writers:
                writer.join()


def _wait_for_runs(endpoint: Endpoint, runs: int, timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if len(re.findall(rb"^training_info\{", endpoint.get(), re.MULTILINE)) >= runs:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{endpoint.name}: not every run in /metrics after {timeout} s")


def _cpu_percent(endpoint: Endpoint, seconds: float) -> float:
    """The process's CPU over ``seconds``, in % of one core, scraped every 15 s meanwhile."""
    before, started = process_cpu_seconds(endpoint.pid), time.monotonic()
    while (left := started + seconds - time.monotonic()) > 0:
        endpoint.get()
        time.sleep(min(SCRAPE_INTERVAL, left))
    return (process_cpu_seconds(endpoint.pid) - before) / (time.monotonic() - started) * 100


def _percentile(sorted_values: list[float], share: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * share))]


def calibration() -> tuple[float, float]:
    """A fixed pure-Python workload: its CPU seconds and its wall seconds (more wall than CPU: the
    machine was busy with others)."""
    def work() -> None:
        total = 0
        for n in range(3_000_000):
            total += n % 7
    wall = time.perf_counter()
    cpu = cpu_seconds(work)
    return cpu, time.perf_counter() - wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", default="100,300,1000", help="idle run counts, comma-separated")
    parser.add_argument("--growing", default="5:100", help="GROWING:RUNS, or empty for none")
    parser.add_argument("--seconds", type=float, default=60.0, help="CPU window per contender and round")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scrapes", type=int, default=40, help="back-to-back scrapes for p50/p99")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="scale-") as tmp:
        work = Path(tmp)
        contenders = [Contender(work, 1)] + [Contender(work, int(n)) for n in args.runs.split(",")]
        if args.growing:
            growing, runs = map(int, args.growing.split(":"))
            contenders.append(Contender(work, runs, growing))
        print(f"{os.cpu_count()} CPUs; window {args.seconds:g} s, scraped every {SCRAPE_INTERVAL:g} s; "
              f"{args.scrapes} back-to-back scrapes; {args.repeats} rounds")
        rounds: dict[str, list[dict[str, float]]] = {c.name: [] for c in contenders}
        for repeat in range(args.repeats):
            cpu, wall = calibration()
            print(f"round {repeat + 1}: load average {os.getloadavg()[0]:.1f}; fixed workload {cpu:.2f} s CPU "
                  f"in {wall:.2f} s wall", flush=True)
            for contender in contenders:
                figures = contender.measure(args.seconds, args.scrapes)
                rounds[contender.name].append(figures)
                print(f"  {contender.name}: " + ", ".join(f"{k} {v:.3g}" for k, v in figures.items()), flush=True)
        report(rounds)


def report(rounds: dict[str, list[dict[str, float]]]) -> None:
    def figures(key: str) -> dict[str, list[float]]:
        return {name: [r[key] for r in results] for name, results in rounds.items()}
    show: list[tuple[str, str, str]] = [
        ("cpu", "CPU of the process, every thread, scrapes included", "% of one core"),
        ("p50", "/metrics latency, p50", "ms"), ("p99", "/metrics latency, p99", "ms"),
        ("rss", "RSS", "MB"), ("ready", "start until every run is in /metrics", "s"),
        ("kB", "size of one exposition", "kB"),
    ]
    for key, title, unit in show:
        table(title, figures(key), unit, references=(REFERENCE,), higher_is_better=False)


if __name__ == "__main__":
    main()
