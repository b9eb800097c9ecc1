"""Which run each GPU compute process belongs to, and each run's share of each GPU.

A process belongs to the run whose ``trainer_pid`` it is or descends from, else to the run whose
log its standard output or error goes to (``python train.py > runs/a/train.log``), else to the run
whose command-line match it contains (the longest match wins).

A run's share of a GPU is the memory its processes use there over the memory of all compute
processes on it, so a GPU used by two runs at once is split by their memory, and the part of
processes that are no run's stays no run's; where the GPU does not say how much memory a run's
process uses, the runs on it share equally. A GPU with no run's process is no run's. One run alone
(one log, or a node reporting a run's GPUs) keeps the older rule: when none of the processes is
recognised, every process is the run's, and when none of its GPUs lists a process, every watched
GPU is the run's.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

from exporter.gpu.processes import ProcessTable, descends_from

Processes = Sequence[tuple[int, int | None]]  # (pid, used bytes or None)


class RunProcessTable(ProcessTable, Protocol):
    def outputs(self, pid: int) -> set[str]: ...


@dataclass(frozen=True)
class RunMatch:
    """How a run's processes are recognised."""

    run: str
    trainer_pid: int | None = None
    cmdline_match: str = ""
    log_path: str | None = None  # the run's log, to which its trainer may print

    @cached_property
    def real_log_path(self) -> str | None:
        """``log_path`` with its links resolved, once: a thousand runs' paths are not resolved at each tick."""
        return os.path.realpath(self.log_path) if self.log_path else None


@dataclass(frozen=True)
class GpuShares:
    """Each GPU's share per run (0-1, summing to 1 on a GPU that some run uses) and the memory of
    each run's processes on it (where known)."""

    shares: dict[str, dict[str, float]]  # uuid -> run -> share
    memory: dict[str, dict[str, int]]  # uuid -> run -> bytes

    def uuids_of(self, run: str) -> set[str]:
        return {uuid for uuid, runs in self.shares.items() if runs.get(run)}


def owners(pids: Iterable[int], runs: Sequence[RunMatch], table: RunProcessTable) -> dict[int, str]:
    """The run of each process that belongs to one (see the module docstring). A run whose trainer's
    process tree is found is not also matched otherwise."""
    pids = set(pids)
    owned = {pid: m.run for m in runs if m.trainer_pid is not None
             for pid in pids if descends_from(pid, m.trainer_pid, table)}
    if not pids - set(owned):
        return owned
    others = [m for m in runs if m.run not in owned.values()]
    logs = {m.real_log_path: m.run for m in others if m.log_path}
    for pid in pids - set(owned):
        by_log = [logs[path] for path in map(os.path.realpath, table.outputs(pid)) if path in logs]
        cmdline = table.cmdline(pid) or ""
        by_cmdline = [m for m in others if m.cmdline_match and m.cmdline_match in cmdline]
        if by_log:
            owned[pid] = by_log[0]
        elif by_cmdline:
            owned[pid] = max(by_cmdline, key=lambda m: (len(m.cmdline_match), m.run)).run
    return owned


def shares(gpus: Mapping[str, Processes | None], runs: Sequence[RunMatch], table: RunProcessTable, *,
           alone: bool = False) -> GpuShares:
    """Each GPU's shares per run, from the compute processes on each (None: the GPU did not say);
    ``alone``: the exporter's only run, which keeps the older fallback (module docstring)."""
    alone = alone and len(runs) == 1
    listed = {uuid: list(processes) for uuid, processes in gpus.items() if processes is not None}
    owned = owners({pid for processes in listed.values() for pid, _ in processes}, runs, table)
    if alone and not owned:
        owned = {pid: runs[0].run for processes in listed.values() for pid, _ in processes}
    result = GpuShares({}, {})
    for uuid, processes in listed.items():
        _share_gpu(uuid, [(owned.get(pid), used) for pid, used in processes], result)
    if alone and not result.shares:
        result.shares.update({uuid: {runs[0].run: 1.0} for uuid in gpus})
    return result


def _share_gpu(uuid: str, processes: list[tuple[str | None, int | None]], result: GpuShares) -> None:
    """``processes``: (run or None for no run's, used bytes or None) of each process on the GPU."""
    memory: dict[str, int] = {}
    unknown = False
    for run, used in processes:
        if run is not None:
            memory[run] = memory.get(run, 0) + (used or 0)
            unknown = unknown or used is None
    if not memory:
        return
    total = sum(used or 0 for _, used in processes)
    if unknown or total <= 0:
        result.shares[uuid] = {run: 1.0 / len(memory) for run in memory}
    else:
        result.shares[uuid] = {run: used / total for run, used in memory.items()}
    if not unknown:
        result.memory[uuid] = memory
