"""A background thread that repeats one step until it is stopped: started once, stopped by an event
that also cuts its waits short, joined with a time limit. The log watcher, the GPU sampler and the
notification sender each run on one."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Repeating:
    """Call ``step`` again and again on a daemon thread named ``name``. ``step`` returns how many
    seconds to wait before the next call (0: at once) or None to end the thread; when it raises,
    ``on_error`` hears of it and the next call comes after ``error_wait`` seconds."""

    def __init__(self, name: str, step: Callable[[], float | None], on_error: Callable[[Exception], None],
                 error_wait: float) -> None:
        self.name = name
        self._step = step
        self._on_error = on_error
        self._error_wait = error_wait
        self.stopping = threading.Event()  # set: the thread ends, and waits on it end at once
        self._thread: threading.Thread | None = None

    @property
    def started(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        if self._thread is not None:
            return
        self.stopping.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def join(self, seconds: float) -> None:
        """Wait up to ``seconds`` for the thread to end by itself."""
        if self._thread is not None:
            self._thread.join(seconds)

    def stop(self, join_seconds: float) -> None:
        """End the thread: its current wait is cut short; waits up to ``join_seconds`` for it."""
        self.stopping.set()
        self.join(join_seconds)
        self._thread = None

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                wait = self._step()
            except Exception as exc:  # noqa: BLE001 - the thread outlives any one bad step
                self._on_error(exc)
                wait = self._error_wait
            if wait is None:
                return
            if wait > 0:
                self.stopping.wait(wait)
