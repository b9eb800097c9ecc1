"""Which GPU compute processes belong to the trainer: by PID (and its children) or command line."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Protocol


class ProcessTable(Protocol):
    def cmdline(self, pid: int) -> str | None: ...
    def parent(self, pid: int) -> int | None: ...


class ProcFs:
    """Command lines and parents of processes, from /proc (host PIDs need the host PID namespace)."""

    def __init__(self, root: str = "/proc") -> None:
        self._root = root

    def cmdline(self, pid: int) -> str | None:
        try:
            with open(f"{self._root}/{pid}/cmdline", "rb") as f:
                return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            return None

    def parent(self, pid: int) -> int | None:
        try:
            with open(f"{self._root}/{pid}/stat", "rb") as f:
                stat = f.read().decode(errors="replace")
            return int(stat.rsplit(")", 1)[1].split()[1])  # fields after "(comm)": state, ppid
        except (OSError, IndexError, ValueError):
            return None

    def outputs(self, pid: int) -> set[str]:
        """The files the process's standard output and error go to (none that cannot be read)."""
        found = set()
        for fd in (1, 2):
            try:
                found.add(os.readlink(f"{self._root}/{pid}/fd/{fd}"))
            except OSError:
                pass
        return found


def descends_from(pid: int, ancestor: int, table: ProcessTable) -> bool:
    for _ in range(64):
        if pid == ancestor:
            return True
        parent = table.parent(pid)
        if parent is None or parent <= 1:
            return False
        pid = parent
    return False


def trainer_pids(
    pids: Iterable[int], trainer_pid: int | None, cmdline_match: str, table: ProcessTable
) -> set[int]:
    """The compute processes that belong to the trainer: the ``trainer_pid`` and its children, else
    those whose command line contains ``cmdline_match``, else (nothing matched) all of them."""
    pids = set(pids)
    if trainer_pid is not None:
        matched = {p for p in pids if descends_from(p, trainer_pid, table)}
        if matched:
            return matched
    if cmdline_match:
        matched = {p for p in pids if cmdline_match in (table.cmdline(p) or "")}
        if matched:
            return matched
    return pids
