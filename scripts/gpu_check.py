"""Scrapes a serving exporter while scripts/gpu_check_train.py trains, then prints one PASS/FAIL line per
check of its GPU and training metrics (stdlib and prometheus_client's parser only). ``watch`` scrapes and
checks (exit 1 on a failure); ``preflight`` exits 2 with one line if there is no GPU, PyTorch or NVML."""

from __future__ import annotations

import argparse
import http.client
import math
import statistics
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

MAX_ENERGY_ERROR = 0.10  # energy counter vs integrated power, relative
MAX_P99_SECONDS = 0.050
STARTUP_SECONDS = 60.0  # importing PyTorch and starting CUDA, on top of the training time

Samples = dict[str, list[tuple[dict[str, str], float]]]  # sample name: (labels, value) of each


@dataclass(frozen=True)
class Scrape:
    t: float  # time.monotonic() when the request was sent
    latency: float  # seconds until the whole exposition was read; inf: no valid answer
    samples: Samples


@dataclass(frozen=True)
class Result:
    name: str
    ok: bool
    value: str
    why: str = ""

    def line(self) -> str:
        return f"PASS {self.name}: {self.value}" if self.ok else f"FAIL {self.name}: {self.value} ({self.why})"


def parse(text: str) -> Samples:
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def matching(samples: Samples, name: str, **labels: str) -> list[tuple[dict[str, str], float]]:
    """(labels, value) of every sample called ``name`` that carries ``labels``."""
    return [(have, value) for have, value in samples.get(name, ()) if all(have.get(k) == v for k, v in labels.items())]


def series(scrapes: list[Scrape], name: str, **labels: str) -> list[tuple[float, float]]:
    """(time, value) of the first matching sample in each scrape that has one."""
    return [(s.t, found[0][1]) for s in scrapes if (found := matching(s.samples, name, **labels))]


def trainer_gpu(scrapes: list[Scrape]) -> str:
    """The ``gpu`` label holding the most trainer memory at any time, else the lowest GPU seen."""
    most = {labels["gpu"]: 0.0 for s in scrapes for labels, _ in matching(s.samples, "training_gpu_info")}
    for s in scrapes:
        for labels, used in matching(s.samples, "training_gpu_trainer_memory_used_bytes"):
            most[labels["gpu"]] = max(most.get(labels["gpu"], 0.0), used)
    return max(sorted(most, key=int), key=most.__getitem__, default="0")


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (``share`` 0-1) of a non-empty list."""
    ranked = sorted(values)
    return ranked[max(0, math.ceil(share * len(ranked)) - 1)]


def trapezoid(points: list[tuple[float, float]]) -> float:
    return sum((t2 - t1) * (v1 + v2) / 2 for (t1, v1), (t2, v2) in zip(points, points[1:]))


def check_power(scrapes: list[Scrape], gpu: str) -> Result:
    pairs = [(p[0][1], lim[0][1]) for s in scrapes
             if (p := matching(s.samples, "training_gpu_power_watts", gpu=gpu))
             and (lim := matching(s.samples, "training_gpu_power_limit_watts", gpu=gpu))]
    if not pairs:
        return Result("power", False, "no samples", "training_gpu_power_watts or _limit_watts missing")
    low, high = min(p for p, _ in pairs), max(p for p, _ in pairs)
    value = f"{low:.1f}-{high:.1f} W, limit {min(lim for _, lim in pairs):.0f} W, {len(pairs)} scrapes"
    over = sum(1 for p, lim in pairs if p > lim)
    why = "a reading of 0 W or less" if low <= 0 else f"{over} readings above the power limit"
    return Result("power", low > 0 and not over, value, why)


def energy_points(scrapes: list[Scrape], gpu: str) -> list[tuple[float, float, float]]:
    """(time, power W, energy J) of the scrapes that carry both."""
    return [(s.t, p[0][1], e[0][1]) for s in scrapes
            if (p := matching(s.samples, "training_gpu_power_watts", gpu=gpu))
            and (e := matching(s.samples, "training_gpu_energy_joules_total", gpu=gpu))]


def check_energy_monotonic(scrapes: list[Scrape], gpu: str) -> Result:
    energy = [e for _, _, e in energy_points(scrapes, gpu)]
    if len(energy) < 2:
        return Result("energy_monotonic", False, f"{len(energy)} samples", "training_gpu_energy_joules_total missing")
    drops = sum(1 for a, b in zip(energy, energy[1:]) if b < a)
    methods = {labels["method"] for s in scrapes for labels, _ in
               matching(s.samples, "training_gpu_energy_joules_total", gpu=gpu)}
    value = f"{energy[0]:.0f} -> {energy[-1]:.0f} J over {len(energy)} scrapes, method {'/'.join(sorted(methods))}"
    why = f"went down {drops} times" if drops else "never rose"
    return Result("energy_monotonic", not drops and energy[-1] > energy[0], value, why)


def check_energy_vs_power(scrapes: list[Scrape], gpu: str) -> Result:
    points = energy_points(scrapes, gpu)
    integral = trapezoid([(t, p) for t, p, _ in points])
    if len(points) < 2 or integral <= 0:
        return Result("energy_vs_power", False, f"{len(points)} samples", "no power to integrate")
    counted = points[-1][2] - points[0][2]
    error = abs(counted - integral) / integral
    value = (f"counter {counted:.0f} J, power integral {integral:.0f} J over {points[-1][0] - points[0][0]:.0f} s, "
             f"{error:.1%} apart")
    return Result("energy_vs_power", error <= MAX_ENERGY_ERROR, value, f"more than {MAX_ENERGY_ERROR:.0%} apart")


def check_trainer_memory(scrapes: list[Scrape], gpu: str) -> Result:
    used = [v for _, v in series(scrapes, "training_gpu_trainer_memory_used_bytes", gpu=gpu)]
    if not used:
        return Result("trainer_memory", False, "no samples", "training_gpu_trainer_memory_used_bytes missing")
    value = f"max {max(used) / 2**30:.2f} GiB"
    return Result("trainer_memory", max(used) > 0, value, "the trainer's process was never matched")


def check_utilization(scrapes: list[Scrape], gpu: str) -> Result:
    busy = [v for _, v in series(scrapes, "training_gpu_utilization_ratio", gpu=gpu)]
    if not busy:
        return Result("utilization", False, "no samples", "training_gpu_utilization_ratio missing")
    value = f"max {max(busy):.0%}, median {statistics.median(busy):.0%}"
    return Result("utilization", max(busy) > 0, value, "never above 0 during training")


def check_clocks(scrapes: list[Scrape], gpu: str) -> Result:
    last = next((s.samples for s in reversed(scrapes) if matching(s.samples, "training_gpu_clock_hertz", gpu=gpu)), {})
    clocks = {labels["clock"]: hz for labels, hz in matching(last, "training_gpu_clock_hertz", gpu=gpu)}
    events = matching(last, "training_gpu_clock_event_active", gpu=gpu)
    active = sorted(labels["reason"] for labels, on in events if on) or ["none"]
    value = (", ".join(f"{clock} {hz / 1e6:.0f} MHz" for clock, hz in sorted(clocks.items())) or "no clocks")
    value += f"; {len(events)} clock event reasons, active: {', '.join(active)}"
    why = "training_gpu_clock_event_active missing" if clocks.get("sm") else "no SM clock in training_gpu_clock_hertz"
    return Result("clocks", bool(clocks.get("sm") and events), value, why)


def check_mfu(scrapes: list[Scrape], gpu: str) -> Result:
    mfu = [v for _, v in series(scrapes, "training_mfu_ratio", basis="gpu_peak")]
    if not mfu:
        return Result("mfu_gpu_peak", False, "no samples", 'training_mfu_ratio{basis="gpu_peak"} never exported')
    value = f"median {statistics.median(mfu):.3f} ({min(mfu):.3f}-{max(mfu):.3f}) in {len(mfu)} scrapes"
    return Result("mfu_gpu_peak", all(0 < v <= 1 for v in mfu), value, "outside 0-1")


def check_latency(scrapes: list[Scrape], gpu: str) -> Result:
    if not scrapes:
        return Result("scrape_latency", False, "no scrapes", "the exporter never answered")
    latencies = [s.latency for s in scrapes]
    p99, failed = percentile(latencies, 0.99), latencies.count(math.inf)
    value = (f"p50 {percentile(latencies, 0.5) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
             f"max {max(latencies) * 1000:.1f} ms over {len(latencies)} scrapes, {failed} failed")
    why = f"{failed} scrapes got no valid answer" if failed else f"p99 not under {MAX_P99_SECONDS * 1000:.0f} ms"
    return Result("scrape_latency", not failed and p99 < MAX_P99_SECONDS, value, why)


def check_gpu_collector(scrapes: list[Scrape], gpu: str) -> Result:
    up = [v == 1 for _, v in series(scrapes, "training_exporter_collector_success", collector="gpu")]
    if True not in up:
        return Result("gpu_collector", False, f"never 1 in {len(up)} scrapes", "NVML not read; see exporter.log")
    since = up[up.index(True):]
    value = f"1 in {sum(since)}/{len(since)} scrapes since it first was"
    return Result("gpu_collector", all(since), value, "dropped to 0")


def check_training_followed(scrapes: list[Scrape], gpu: str) -> Result:
    iterations = [v for _, v in series(scrapes, "training_iteration")]
    if len(iterations) < 2:
        return Result("training_followed", False, f"{len(iterations)} samples", "training_iteration missing")
    value = f"iteration {iterations[0]:.0f} -> {iterations[-1]:.0f}"
    return Result("training_followed", iterations[-1] > iterations[0], value, "not rising")


CHECKS: tuple[Callable[[list[Scrape], str], Result], ...] = (
    check_power, check_energy_monotonic, check_energy_vs_power, check_trainer_memory, check_utilization,
    check_clocks, check_mfu, check_latency, check_gpu_collector, check_training_followed,
)


def evaluate(scrapes: list[Scrape]) -> list[Result]:
    gpu = trainer_gpu(scrapes)
    return [check(scrapes, gpu) for check in CHECKS]


def alive(pid: int) -> bool:
    """False once the process is gone or a zombie (its parent, the shell, may not have reaped it yet)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def watch(url: str, trainer_pid: int, deadline: float, interval: float) -> tuple[list[Scrape], str]:
    """Scrape every ``interval`` s while the trainer lives (until ``deadline``); the scrapes and the last text."""
    scrapes: list[Scrape] = []
    text = ""
    while alive(trainer_pid) and time.monotonic() < deadline:
        sent, started = time.monotonic(), time.perf_counter()
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                body = response.read()
            latency = time.perf_counter() - started
            text = body.decode()
            scrapes.append(Scrape(sent, latency, parse(text)))
        except (OSError, http.client.HTTPException, ValueError):  # refused, cut short, or not an exposition
            if scrapes:  # it answered before (else: not listening yet)
                scrapes.append(Scrape(sent, math.inf, {}))
        time.sleep(max(0.0, interval - (time.monotonic() - sent)))
    return scrapes, text


def gpu_line(scrapes: list[Scrape], gpu: str) -> str:
    infos = [found[0][0] for s in scrapes if (found := matching(s.samples, "training_gpu_info", gpu=gpu))]
    if not infos:
        return "GPU: none reported"
    return f"GPU {gpu}: {infos[-1]['name']} (driver {infos[-1]['driver_version']}, {infos[-1]['uuid']})"


def write_series(scrapes: list[Scrape], gpu: str, path: Path) -> None:
    """One CSV row per scrape: what the checks looked at, for a look afterwards."""
    columns = {"power_w": ("training_gpu_power_watts", {"gpu": gpu}),
               "energy_j": ("training_gpu_energy_joules_total", {"gpu": gpu}),
               "utilization": ("training_gpu_utilization_ratio", {"gpu": gpu}),
               "trainer_bytes": ("training_gpu_trainer_memory_used_bytes", {"gpu": gpu}),
               "iteration": ("training_iteration", {}),
               "mfu_gpu_peak": ("training_mfu_ratio", {"basis": "gpu_peak"})}
    rows = ["t_s,latency_ms," + ",".join(columns)]
    for s in scrapes:
        cells = [f"{s.t - scrapes[0].t:.3f}", f"{s.latency * 1000:.2f}"]
        for name, labels in columns.values():
            found = matching(s.samples, name, **labels)
            cells.append(f"{found[0][1]:g}" if found else "")
        rows.append(",".join(cells))
    path.write_text("\n".join(rows) + "\n")


def preflight() -> int:
    """0 when PyTorch sees a CUDA GPU and NVML starts; else one line saying what is missing, and 2."""
    try:
        import torch

        if not torch.cuda.is_available():
            raise RuntimeError("PyTorch sees no CUDA GPU (torch.cuda.is_available() is False)")
        import pynvml

        pynvml.nvmlInit()
        pynvml.nvmlShutdown()
    except Exception as error:  # no PyTorch, no CUDA GPU, no NVML library or driver
        print(f"SKIP gpu_check: needs an NVIDIA GPU, PyTorch and NVML: {type(error).__name__}: {error}", flush=True)
        return 2
    return 0


def run_watch(args: argparse.Namespace) -> int:
    deadline = time.monotonic() + args.seconds + STARTUP_SECONDS
    scrapes, text = watch(args.url, args.trainer_pid, deadline, args.interval)
    gpu = trainer_gpu(scrapes)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "metrics.txt").write_text(text)
    write_series(scrapes, gpu, args.out / "series.csv")
    print(gpu_line(scrapes, gpu), flush=True)
    results = evaluate(scrapes)
    for result in results:
        print(result.line(), flush=True)
    return 0 if all(r.ok for r in results) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("preflight", help="exit 2 with one line if there is no GPU, PyTorch or NVML")
    watch_parser = commands.add_parser("watch", help="scrape while the trainer runs, then check")
    watch_parser.add_argument("--url", required=True)
    watch_parser.add_argument("--trainer-pid", type=int, required=True)
    watch_parser.add_argument("--seconds", type=float, required=True, help="the trainer's training time")
    watch_parser.add_argument("--interval", type=float, default=0.5)
    watch_parser.add_argument("--out", type=Path, required=True, help="where metrics.txt and series.csv go")
    args = parser.parse_args(argv)
    return preflight() if args.command == "preflight" else run_watch(args)


if __name__ == "__main__":
    sys.exit(main())
