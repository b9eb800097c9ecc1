"""The ``run`` command: bind the port and check every setting, then start the trainer as a child,
pass its output through to the terminal byte for byte and append it to the log, serve /metrics
while it runs and for a grace period after, forward the signals that stop it, and exit with its
status. A mistake of the exporter's own (a port in use, a bad address) stops the command before
the trainer starts, never after."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from exporter.alerts.alert import RULES
from exporter.errors import UsageError
from exporter.trainer.process import TrainerProcess

log = logging.getLogger(__name__)

CHUNK = 65536  # bytes read from a pipe at once
DRAIN_SECONDS = 5.0  # how long output is still read after the trainer ends (a grandchild may hold the pipe)
STOP_SECONDS = 10.0  # how long the exporter has to stop after the grace period
# How long /metrics is served after the trainer ends, by default: long enough for the shipped
# Prometheus (prometheus/prometheus.yml: a scrape and a rule evaluation every 15 s) to fire the alert
# of the run's end while the exporter still answers, its message quoting the run's last figures:
# a scrape that sees the end, an evaluation, the longest ``for:`` of those alerts, a scrape to spare.
# The rules also hold a run's last state for 10 minutes after its exporter has gone.
SHIPPED_SCRAPE_SECONDS = 15.0
ENDING_ALERTS = ("TrainingCrashed", "TrainingLossNotFinite", "TrainingFinished")
DEFAULT_GRACE_SECONDS = 3 * SHIPPED_SCRAPE_SECONDS + max(RULES[name].for_seconds for name in ENDING_ALERTS)
# Signals a terminal sends to its whole foreground group; the trainer's group gets them the same way.
GROUP_SIGNALS = (signal.SIGINT, signal.SIGHUP)
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

# serve(stop, trainer): serve /metrics for this trainer until ``stop`` is set
Serve = Callable[[threading.Event, TrainerProcess], object]
# prepare(): bind the port and check what serving needs (UsageError when it cannot), before the
# trainer starts; then how to serve
Prepare = Callable[[], Serve]


class ChildProcess(TrainerProcess):
    """The trainer as the log watcher sees it: alive until :meth:`end` (its output all written to
    the log), then one more watcher read, so that the run's end is judged on its last lines."""

    def __init__(self, pid: int) -> None:
        super().__init__(pid)
        self.seen = True
        self._ended = threading.Event()
        self._reported = False

    def end(self) -> None:
        self._ended.set()

    def alive(self) -> bool:
        if self._reported:
            return False
        self._reported = self._ended.is_set()  # the next read of the log comes after every write
        return True


def exit_status(returncode: int) -> int:
    """The shell's status for a child: its exit code, or 128 + N when signal N killed it."""
    return 128 - returncode if returncode < 0 else returncode


def open_log(path: str) -> int:
    """A descriptor appending to the log (created with its directory when missing)."""
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as exc:
        raise UsageError(f"cannot write the log {path}: {exc.strerror or exc}; pass another --log") from exc


def start(command: Sequence[str]) -> subprocess.Popen:
    """The trainer, unbuffered, in its own process group (signals reach it once, through the
    wrapper), reading no terminal input."""
    try:
        return subprocess.Popen(list(command), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                                process_group=0)
    except OSError as exc:
        raise UsageError(f"cannot start {command[0]!r}: {exc.strerror or exc}") from exc


def thread(target: Callable[..., object], *args: object, name: str) -> threading.Thread:
    """A started thread that leaves the forwarded signals to the main thread, as do the threads it
    starts: a signal the kernel gave another thread would wait for the main thread's next wake."""

    def blocked() -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, FORWARDED)
        target(*args)

    started = threading.Thread(target=blocked, name=name, daemon=True)
    started.start()
    return started


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class Tee:
    """Copies the trainer's stdout and stderr, chunk by chunk as they arrive, to the terminal's
    and to the log. A terminal that goes away (``| head``) stops only the copy to the terminal; a
    log that cannot be written, only the copy to the log."""

    def __init__(self, log_fd: int) -> None:
        self._log_fd = log_fd
        self._lock = threading.Lock()  # one chunk at a time into the log
        self._log_failed = False
        self._threads: list[threading.Thread] = []

    def start(self, source, terminal_fd: int) -> None:
        self._threads.append(thread(self._copy, source.fileno(), terminal_fd, name=f"tee-{terminal_fd}"))

    def join(self, timeout: float) -> bool:
        """Wait for both streams to end; whether they did within ``timeout`` seconds in all (one
        deadline for both, not ``timeout`` for each)."""
        deadline = time.monotonic() + timeout
        for copy in self._threads:
            copy.join(max(0.0, deadline - time.monotonic()))
        return not any(copy.is_alive() for copy in self._threads)

    def close(self) -> None:
        """Close the log, unless a stream is still being copied into it (its descriptor then stays
        open until the process ends, never reused for another file under the copy's feet)."""
        if self.join(0):
            os.close(self._log_fd)

    def _copy(self, fd: int, terminal_fd: int) -> None:
        terminal = True
        while chunk := os.read(fd, CHUNK):
            self._to_log(chunk)
            if terminal:
                try:
                    _write_all(terminal_fd, chunk)
                except OSError:
                    terminal = False

    def _to_log(self, chunk: bytes) -> None:
        with self._lock:
            if self._log_failed:
                return
            try:
                _write_all(self._log_fd, chunk)
            except OSError as exc:
                self._log_failed = True
                log.error("cannot append to the log any more: %s; the trainer's output reaches the "
                          "terminal only", exc.strerror or exc)


class Signals:
    """While the trainer runs, SIGINT, SIGTERM and SIGHUP go on to it (SIGINT and SIGHUP to its
    process group, as a terminal sends them). SIGINT and SIGTERM are the user's interrupt, unless
    the trainer ignores them (``nohup``, a shell's background job): one it ignores changes nothing,
    and whether it ended the run is told by how the trainer ends. Once it has ended, they end the
    grace period."""

    def __init__(self, child: subprocess.Popen, stop: threading.Event, trainer: TrainerProcess) -> None:
        self._child = child
        self._stop = stop
        self._trainer = trainer
        self.child_ended = False
        self._previous = {signum: signal.signal(signum, self._handle) for signum in FORWARDED}

    def _handle(self, signum: int, _frame: object) -> None:
        if self.child_ended:
            self._stop.set()
            return
        if signum in (signal.SIGINT, signal.SIGTERM) and self._trainer.interrupt is None \
                and not self._trainer.ignores(signum):
            self._trainer.interrupt = signum
        try:
            if signum in GROUP_SIGNALS:
                os.killpg(self._child.pid, signum)
            else:
                os.kill(self._child.pid, signum)
        except ProcessLookupError:
            pass

    def restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


def _serve(serve: Serve, stop: threading.Event, trainer: ChildProcess) -> None:
    """The exporter's thread. Whatever goes wrong here leaves the trainer running: the port was
    bound and the settings checked before it started."""
    try:
        serve(stop, trainer)
    except Exception as exc:  # noqa: BLE001 - the trainer runs on, whatever happened to the exporter
        log.error("serving /metrics failed (%s); the trainer runs on without it", exc,
                  exc_info=not isinstance(exc, UsageError))


def run(command: Sequence[str], log_path: str, grace_seconds: float, prepare: Prepare) -> int:
    """Run the trainer ``command`` with its output appended to ``log_path`` and /metrics served
    (by what ``prepare`` returns, called before the trainer starts) until ``grace_seconds`` after
    it ends; returns its exit status."""
    if not command:
        raise UsageError("no trainer command: put it after --, e.g. "
                         "training-exporter run -- python train.py config/train_shakespeare_char.py")
    serve = prepare()
    log_fd = open_log(log_path)
    try:
        child = start(command)
    except UsageError:
        os.close(log_fd)
        raise
    stop, trainer = threading.Event(), ChildProcess(child.pid)
    signals, tee = Signals(child, stop, trainer), Tee(log_fd)
    try:
        tee.start(child.stdout, 1)  # the terminal's stdout, whatever sys.stdout has become
        tee.start(child.stderr, 2)
        server = thread(_serve, serve, stop, trainer, name="serve")
        status = _wait(child, tee, trainer, signals)
        if server.is_alive():
            log.info("the trainer exited with status %d; serving /metrics %g s more (Ctrl-C ends that now)",
                     status, grace_seconds)
            stop.wait(grace_seconds)
        else:
            log.info("the trainer exited with status %d", status)
        stop.set()
        server.join(STOP_SECONDS)
        return status
    finally:
        stop.set()
        signals.restore()
        tee.close()


def _wait(child: subprocess.Popen, tee: Tee, trainer: ChildProcess, signals: Signals) -> int:
    """Wait for the trainer and the last of its output; then its end may be seen."""
    returncode = child.wait()
    signals.child_ended = True
    if not tee.join(DRAIN_SECONDS):
        log.warning("the trainer has ended but something it started still holds its output; not waiting for it")
    trainer.returncode = returncode
    trainer.end()
    return exit_status(returncode)
