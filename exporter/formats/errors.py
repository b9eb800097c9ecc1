"""Crash markers common to every Python trainer: tracebacks and CUDA out-of-memory errors."""

from __future__ import annotations

from exporter.events import TrainerError

_OOM_MARKERS = ("CUDA out of memory", "OutOfMemoryError", "CUDA error: out of memory")


def parse(line: str) -> TrainerError | None:
    # one plain search ("memory" or "Memory") rules out almost every line before the markers are
    # looked for one by one
    if "emory" in line and any(marker in line for marker in _OOM_MARKERS):
        return TrainerError("oom")
    if line.startswith("Traceback (most recent call last):"):
        return TrainerError("traceback")
    return None
