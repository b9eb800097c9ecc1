"""CPU time for the benchmarks: contenders measured in turn (interleaved, so that a slower spell of
the machine hits each of them alike), repeated, and each figure printed as its min and median
and as a ratio against references measured in the same run."""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


def cpu_seconds(work: Callable[[], object]) -> float:
    """CPU time of ``work()`` in this process."""
    started = time.process_time()
    work()
    return time.process_time() - started


def child_cpu_seconds(command: list[str], cwd: Path | None = None) -> float:
    """CPU time (user + system, every thread) of ``command`` run to its end as a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, cwd=cwd)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def process_cpu_seconds(pid: int) -> float:
    """CPU time used so far by the running process ``pid``, every thread, from /proc: the
    scheduler's run time of each thread in nanoseconds where the kernel keeps it (``schedstat``),
    else the clock ticks of the whole process (10 ms steps, charged to whoever runs at a tick)."""
    if not Path(f"/proc/{pid}/schedstat").exists():
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except FileNotFoundError:  # a thread that ended meanwhile
            continue
    return total / 1e9


def rss_megabytes(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def interleaved(contenders: dict[str, Callable[[], float]], repeats: int) -> dict[str, list[float]]:
    """Each contender's measurement (a callable returning one figure), ``repeats`` rounds of all
    contenders in turn."""
    figures: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, measure in contenders.items():
            figures[name].append(measure())
    return figures


def table(title: str, figures: dict[str, list[float]], unit: str, *, references: tuple[str, ...],
          higher_is_better: bool) -> dict[str, float]:
    """Print ``figures`` (by name, in ``unit``) as their min and median and, for each reference
    present, the ratio of medians, written so that above 1 is better than the reference. Returns
    the medians by name."""
    medians = {name: statistics.median(values) for name, values in figures.items() if values}
    present = [name for name in references if name in medians]
    print(f"\n{title} ({unit})")
    print(f"  {'':40} {'min':>10} {'median':>10}" + "".join(f"  {'vs ' + name:>22}" for name in present))
    for name, values in figures.items():
        if values:
            ratios = "".join(f"  {_ratio(medians[name], medians[ref], higher_is_better):>22}" for ref in present)
            print(f"  {name:40} {_number(min(values)):>10} {_number(medians[name]):>10}{ratios}")
    return medians


def _ratio(value: float, reference: float, higher_is_better: bool) -> str:
    if not reference or not value:
        return "-"
    return f"{(value / reference if higher_is_better else reference / value):.2f}x"


def _number(value: float) -> str:
    if value >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}" if value < 100 else f"{value:.1f}"
