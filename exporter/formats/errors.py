"""Crash markers common to every Python trainer: tracebacks, their last line (the error itself) and
CUDA out-of-memory errors."""

from __future__ import annotations

from exporter.events import ErrorMessage, TrainerError

_OOM_MARKERS = ("CUDA out of memory", "OutOfMemoryError", "CUDA error: out of memory")
_ERROR_ENDINGS = ("Error", "Exception", "Interrupt")
MAX_MESSAGE = 300  # characters of an error line kept


def parse(line: str) -> TrainerError | ErrorMessage | None:
    # one plain search ("memory" or "Memory") rules out almost every line before the markers are
    # looked for one by one
    if "emory" in line and any(marker in line for marker in _OOM_MARKERS):
        return TrainerError("oom", message_of(line))
    if line.startswith("Traceback (most recent call last):"):
        return TrainerError("traceback")
    if ("Error" in line or "Exception" in line or "Interrupt" in line) and is_error_line(line):
        return ErrorMessage(message_of(line))
    return None


def is_error_line(line: str) -> bool:
    """Whether ``line`` is a traceback's last line: an exception's (dotted) class name at the start
    of the line, then ``: message`` or nothing (``torch.OutOfMemoryError: ...``, ``KeyboardInterrupt``)."""
    name = line.partition(": ")[0].rstrip()
    return (len(name) < 200 and name.endswith(_ERROR_ENDINGS)
            and all(part.isidentifier() for part in name.split(".")))


def message_of(line: str) -> str:
    line = line.strip()
    return line if len(line) <= MAX_MESSAGE else line[:MAX_MESSAGE - 1] + "…"
