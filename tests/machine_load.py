"""How much slower than its CPU time this machine runs a fixed piece of work right now: the
factor by which a latency bound of a quiet machine is widened on a loaded one (CI runs on shared
machines). Measured in the same test, so the bound follows the load the test itself met."""

from __future__ import annotations

import time


def _work() -> None:
    total = 0
    for number in range(200_000):
        total += number * number


def slowdown(repeats: int = 5) -> float:
    """The median of wall time over this thread's CPU time for the same work (1.0 on an idle core)."""
    ratios = []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.thread_time()
        _work()
        ratios.append((time.perf_counter() - wall) / max(time.thread_time() - cpu, 1e-6))
    return max(1.0, sorted(ratios)[len(ratios) // 2])
