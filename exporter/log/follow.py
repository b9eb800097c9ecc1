"""Following a log file: appends, rotation, truncation, partial lines, junk; bounded memory."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field

from exporter.errors import LogOnce
from exporter.run.text import as_text

log = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20
MAX_LINE_BYTES = 1 << 20
HEAD_BYTES = 64  # the file's first bytes: a fingerprint that tells a rewritten file from a grown one


@dataclass
class Batch:
    """One chunk's complete lines, how many over-long lines were dropped, whether the lines are a
    backfill of content that existed before the exporter started, and the file's mtime."""

    lines: list[str] = field(default_factory=list)
    dropped: int = 0
    backfill: bool = False
    modified: float | None = None


class LogFollower:
    """Reads new complete lines from ``path`` on each :meth:`poll`, a chunk at a time.

    A file present at the first poll is a backfill; one that appears later, or replaces the old
    one (rotation: a new inode), is read from its start as live content. A file that shrinks
    (truncation, ``copytruncate``) is read again from its start. A line without its newline is
    held until the newline arrives; a line longer than ``max_line_bytes`` is dropped and counted.
    A file whose first bytes changed was truncated and rewritten, even if it is now longer. A path
    that exists but cannot be read is a :attr:`problem`, logged once as an error naming the fix.
    """

    def __init__(self, path: str, max_line_bytes: int = MAX_LINE_BYTES, chunk_bytes: int = CHUNK_BYTES) -> None:
        self.path = path
        self._max_line = max_line_bytes
        self._chunk = chunk_bytes
        self._file = None
        self._inode: tuple[int, int] | None = None
        self._offset = 0
        self._partial = b""
        self._skipping = False
        self._sent = False  # the held partial line ends with a \r-ended update already passed on
        self._first_poll = True
        self._exists = False
        self.modified: float | None = None  # the log's mtime at the last poll: when it last grew
        self._head = b""
        self.problem: str | None = None
        self._log_problem = LogOnce(log, logging.ERROR)

    @property
    def head(self) -> bytes:
        """The file's first bytes, as far as read."""
        return self._head

    @property
    def present(self) -> bool:
        """Whether the log exists at its path (as of the last poll)."""
        return self._exists

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def poll(self) -> Iterator[Batch]:
        backfill = self._first_poll
        self._first_poll = False
        try:
            status = os.stat(self.path)
        except OSError:
            status = None
        self._exists = status is not None
        self.modified = status.st_mtime if status is not None else None
        if self._file is not None and status is not None and (status.st_dev, status.st_ino) != self._inode:
            yield from self._read(backfill, None)  # drain what the rotated file still holds
            self.close()
        if status is None:
            self._set_problem(None)
            if self._file is not None:
                yield from self._read(backfill, None)
            return
        if self._file is None and not self._open(status):
            return
        if status.st_size < self._offset or not self._same_head():
            self._file.seek(0)
            self._rewind(0)
        yield from self._read(backfill, status.st_mtime)

    def _open(self, status: os.stat_result) -> bool:
        if not stat.S_ISREG(status.st_mode):
            kind = "a directory" if stat.S_ISDIR(status.st_mode) else "not a regular file"
            self._set_problem(f"{self.path} is {kind}, not a log file: pass the trainer's log file itself "
                              "(for example --log out/train.log)")
            return False
        try:
            # kept open while following; unbuffered: reads are of whole chunks, and a thousand logs'
            # 8 KiB buffers would be 8 MB
            self._file = open(self.path, "rb", buffering=0)  # noqa: SIM115
        except OSError as exc:
            self._set_problem(_unreadable(self.path, exc))
            return False
        self._set_problem(None)
        self._inode = (status.st_dev, status.st_ino)
        self._rewind(0)
        return True

    def _same_head(self) -> bool:
        """Whether the file still starts with the bytes it started with when they were read."""
        if not self._head:
            return True
        try:
            return os.pread(self._file.fileno(), len(self._head), 0) == self._head
        except OSError:
            return True

    def _set_problem(self, problem: str | None) -> None:
        problem = as_text(problem) if problem is not None else None  # it names the path
        self.problem = problem
        if problem is None:
            self._log_problem.clear()
        else:
            self._log_problem(problem, "%s", problem)

    def _rewind(self, offset: int) -> None:
        self._offset = offset
        self._head = b""
        self._partial = b""
        self._skipping = False
        self._sent = False

    def _read(self, backfill: bool, modified: float | None) -> Iterator[Batch]:
        while True:
            data = self._file.read(self._chunk)
            if not data:
                return
            if len(self._head) < HEAD_BYTES:
                self._head += data[:HEAD_BYTES - len(self._head)]
            self._offset += len(data)
            batch = Batch(backfill=backfill, modified=modified)
            self._split(data, batch)
            yield batch

    def _split(self, data: bytes, batch: Batch) -> None:
        if self._sent and data.startswith(b"\n"):  # the \r\n of a line passed on at its \r: not twice
            self._partial, data = b"", data[1:]
        self._sent = False
        end = data.rfind(b"\n")
        if end < 0:
            if not self._skipping:
                self._hold(data, batch)
            return
        complete = self._partial + data[:end]
        self._partial = b""
        if self._skipping:  # drop the rest of an over-long line
            self._skipping = False
            cut = complete.find(b"\n")
            if cut < 0:
                self._hold(data[end + 1:], batch)
                return
            complete = complete[cut + 1:]
        text = complete.decode("utf-8", errors="replace")  # whole lines: no character is split
        lines = text.split("\n")
        if "\r" in text:
            lines = [line.rstrip("\r") for line in lines]
        batch.lines.extend(lines)
        self._hold(data[end + 1:], batch)

    def _hold(self, tail: bytes, batch: Batch) -> None:
        """Keep the start of a line until its newline arrives, unless it grows too long.

        A progress bar redraws itself with ``\r`` and ends its line only when it is done: each new
        complete update is passed on at once, and updates before it are forgotten. An update is
        complete at the ``\r`` after it: tqdm's (``\r`` first) when the next one begins, one ended by
        ``print(..., end="\r")`` at once (should a ``\n`` follow that ``\r``, the line is not passed
        on again).
        """
        self._partial += tail
        last = self._partial.rfind(b"\r")
        if b"\r" in tail:
            previous = self._partial.rfind(b"\r", 0, last)
            update = self._partial[previous + 1:last]
            if update.strip():
                batch.lines.append(update.decode("utf-8", errors="replace"))
            self._sent = last == len(self._partial) - 1
            self._partial = self._partial[previous + 1:]
        if len(self._partial) > self._max_line:
            batch.dropped += 1
            self._partial = b""
            self._skipping = True


def _unreadable(path: str, exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return (f"cannot read the log {path}: permission denied to uid {os.getuid()}, which the exporter runs "
                f"as; make it readable (chmod o+r {path}, and o+x on its folders) or run the exporter as the "
                "trainer's user")
    return f"cannot read the log {path}: {exc.strerror or exc}"
