"""Whether the trainer's process still runs: ``/proc/<pid>/stat`` (the host PID namespace in
compose). A zombie has ended; a PID taken over by a later process (another start time) has too.
And whether an interrupt stopped it: one it ignored did not, nor did one after which another
signal (``kill -9``, the kernel's OOM killer) ended it."""

from __future__ import annotations

import signal
from pathlib import Path

# the signals by which the user stops a trainer; dying of one of them is the interrupt's end
INTERRUPTS = frozenset({signal.SIGINT, signal.SIGTERM, signal.SIGHUP})


class TrainerProcess:
    def __init__(self, pid: int, proc_root: str = "/proc") -> None:
        self.pid = pid
        self._proc = Path(proc_root) / str(pid)
        self._started: str | None = None  # the process's start time, once seen
        self.seen = False  # the process was seen running at least once
        self.interrupt: int | None = None  # an interrupt the user sent that reached it (set by the run wrapper)
        self.returncode: int | None = None  # known to the run wrapper only: the exit code, or -N for signal N

    @property
    def interrupted(self) -> bool:
        """The user stopped it: an interrupt reached it and it ended by exiting (any status: a
        trainer may save a checkpoint and exit 0, torchrun exits 1) or of such a signal."""
        return self.interrupt is not None and (self.returncode is None or self.returncode >= 0
                                               or -self.returncode in INTERRUPTS)

    def ignores(self, signum: int) -> bool:
        """Whether the process ignores ``signum`` now (its SigIgn mask: ``nohup``, a background
        job of a shell); False where that cannot be read."""
        try:
            for line in (self._proc / "status").read_text(encoding="utf-8", errors="replace").splitlines():
                if line.startswith("SigIgn:"):
                    return bool(int(line.split()[1], 16) >> (signum - 1) & 1)
        except (OSError, ValueError, IndexError):
            pass
        return False

    def alive(self) -> bool:
        try:
            fields = (self._proc / "stat").read_text(encoding="utf-8", errors="replace").rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return False
        state, started = fields[0], fields[19] if len(fields) > 19 else ""
        if self._started is None:
            self._started = started
        if state in ("Z", "X") or started != self._started:
            return False
        self.seen = True
        return True
