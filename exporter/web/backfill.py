"""The chart history of a run read back from its log, so that an exporter started on a log that
already holds part of a run (a restart, a late start) draws the run from its first line.

The log is read once, line by line, with the run's format (or the format detected again), into
points of :data:`exporter.web.history.COLUMNS`; :class:`~exporter.web.history.History` keeps them
bounded and evenly thinned. Only the latest training from scratch counts, as for the live run."""

from __future__ import annotations

import logging
import math
import statistics
from collections import deque
from collections.abc import Iterator

from exporter.events import Eval, Progress, RunStart
from exporter.formats import DETECTABLE, FormatReader
from exporter.web.history import MAX_POINTS, History

log = logging.getLogger(__name__)

MAX_BYTES = 1 << 30  # of a log read back: past this the history starts where the reading stopped
TYPICAL_OF = 9  # iteration time: the median of this many latest lines, as the live "typical" time


def reader_for(format_name: str) -> FormatReader:
    return FormatReader.open(format_name) if format_name in DETECTABLE else FormatReader()


def log_points(path: str, format_name: str, max_bytes: int = MAX_BYTES, max_points: int = MAX_POINTS) -> list[tuple]:
    """The points of the latest training in the log at ``path``, thinned to ``max_points`` as they
    are read (memory stays bounded however long the log); empty when it cannot be read."""
    history = History(max_points)
    try:
        with open(path, "rb") as file:
            for point in _points(_lines(file, max_bytes), reader_for(format_name)):
                if point is None:
                    history = History(max_points)  # a new training from scratch: the old one's history goes
                else:
                    history.add("log", point)
    except (OSError, ValueError) as exc:
        log.warning("the page's history could not be read back from %s: %s", path, exc)
    return history.points()


def _lines(file, max_bytes: int) -> Iterator[str]:
    read = 0
    for raw in file:
        read += len(raw)
        if read > max_bytes or not raw.endswith(b"\n"):
            return
        yield raw.decode("utf-8", errors="replace").rstrip("\r\n")


def _points(lines: Iterator[str], reader: FormatReader) -> Iterator[tuple | None]:
    """Points as (timestamp, iteration, loss, val_loss, iteration_seconds, power_watts); None
    where a new training from scratch starts."""
    val, times, started = None, deque(maxlen=TYPICAL_OF), False
    for line in lines:
        for event in reader.feed(line):
            if isinstance(event, Progress):
                started = True
                if event.iteration_seconds is not None:
                    times.append(event.iteration_seconds)  # the median leaves out an eval's long line
                typical = statistics.median(times) if times else None
                yield None, event.iteration, _finite(event.loss), val, typical, None
            elif isinstance(event, Eval) and "val" in event.losses:
                val = _finite(event.losses["val"])
            elif isinstance(event, RunStart) and not event.resumed and started:
                val, started = None, False
                times.clear()
                yield None


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None
