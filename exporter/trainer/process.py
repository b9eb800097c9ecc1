"""Whether the trainer's process still runs: ``/proc/<pid>/stat`` (the host PID namespace in
compose). A zombie has ended; a PID taken over by a later process (another start time) has too."""

from __future__ import annotations

from pathlib import Path


class TrainerProcess:
    def __init__(self, pid: int, proc_root: str = "/proc") -> None:
        self.pid = pid
        self._stat = Path(proc_root) / str(pid) / "stat"
        self._started: str | None = None  # the process's start time, once seen
        self.seen = False  # the process was seen running at least once
        self.interrupted = False  # the user stopped it (set by the run wrapper when it forwards SIGINT/SIGTERM)
        self.returncode: int | None = None  # known to the run wrapper only: the exit code, or -N for signal N

    def alive(self) -> bool:
        try:
            fields = self._stat.read_text(encoding="utf-8", errors="replace").rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return False
        state, started = fields[0], fields[19] if len(fields) > 19 else ""
        if self._started is None:
            self._started = started
        if state in ("Z", "X") or started != self._started:
            return False
        self.seen = True
        return True
