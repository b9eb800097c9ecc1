"""How a run ended, from its log's crash markers and, where known, what its trainer's process did.

A crash is counted once per kind: the lines of one traceback (a frame quoting the exception, a
chained exception, every rank printing the same OOM) up to the next progress line are one crash.
While an interrupt the user sent is stopping the trainer, what it prints (Ctrl-C's
KeyboardInterrupt traceback) is no crash: the end is decided once its exit status is known."""

from __future__ import annotations

from exporter.events import TrainerError
from exporter.run.reason import exit_text


class Ending:
    def __init__(self) -> None:
        self.crashed = self.ended = self.interrupted = False
        self.crash: str | None = None  # what the current crash was, in words (its error line)
        self._kinds: set[str] = set()  # the crash markers of the current crash

    def progress(self) -> None:
        """A progress line: the trainer goes on, whatever it printed before."""
        self.crashed, self.crash = False, None
        self._kinds.clear()

    def error(self, kind: str, stopping: bool = False, text: str | None = None) -> bool:
        """A crash marker saying ``text``; whether it counts (``stopping``: an interrupt is ending
        the trainer)."""
        if stopping:
            return False
        self.crashed, self.crash = True, text
        if kind in self._kinds:
            return False
        self._kinds.add(kind)
        return True

    def error_line(self, text: str) -> None:
        """A traceback's last line: what the crash under way was."""
        if self.crashed:
            self.crash = text

    def trainer_ended(self, *, interrupted: bool, returncode: int | None, at_end: bool,
                      loss_finite: bool) -> TrainerError | None:
        """The trainer's process is gone: at (or near) its last iteration, or with exit code 0,
        the run finished; stopped by the user it was interrupted, whatever its last lines say;
        else it crashed, and the error to count says how: ``killed`` by a signal, ``exited`` with
        an error code, or ``process_gone`` when the code is not known."""
        if self.ended or at_end or (returncode == 0 and not interrupted):
            self.ended = self.ended or (not self.crashed and loss_finite)
        elif interrupted:
            self.interrupted = True
        elif not self.crashed and loss_finite:
            kind = "process_gone" if returncode is None else "killed" if returncode < 0 else "exited"
            return TrainerError(kind, None if returncode is None else exit_text(returncode))
        return None
