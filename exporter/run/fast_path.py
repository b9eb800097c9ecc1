"""The run model's hot loop: the lines of a known format, applied in order.

A format's usual progress line (:class:`~exporter.formats.ProgressLine`) in the common case — the
same segment, the iteration rising, no eval since the last one, the trainer's own time of the
iteration, a finite loss, every value within bounds — is applied here directly: only the timing
windows, the elapsed time, the loss and the MFU change, and the :class:`Progress` event is built
once, for the latest such line, before the next other event and at the end (with the step-time
samples of the lines since, recorded together). Every other line goes
through the format's parser and the model's handlers, so the model ends up the same either way.
This module is the run model's own: it reads and sets the model's progress state."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from exporter.events import Event, Progress
from exporter.formats import ProgressLine
from exporter.formats import errors as crash_markers
from exporter.run.bounds import MAX_ITERATIONS, MAX_SECONDS, MAX_THROUGHPUT
from exporter.run.timing import WARMUP_ITERATIONS

if TYPE_CHECKING:
    from exporter.run.model import RunModel

_INF = math.inf


def feed(model: RunModel, lines: list[str], arrived: float | None, parse: Callable[[str], Event | None],
         progress: ProgressLine | None) -> int:
    """Apply ``lines`` of the format read by ``parse`` to ``model``; returns how many were not
    understood."""
    if progress is None:
        return _feed_events(model, lines, arrived, parse)
    match, to_fields, other, crash = progress.pattern.match, progress.fields, progress.other, crash_markers.parse
    latest = most = rate = None  # the latest line applied here, not yet to the model: fields, maximum, throughput
    not_understood, samples = 0, []  # samples: (iteration, seconds) of the lines since the last settle
    is_open, last, warm_until, elapsed, gap = _state(model)
    sample = samples.append
    most_iterations, most_seconds, most_throughput, inf = MAX_ITERATIONS, MAX_SECONDS, MAX_THROUGHPUT, _INF
    for line in lines:
        found = match(line)
        if found is not None and (fields := to_fields(*found.groups())) is not None:
            iteration, loss, max_iterations, seconds, clock, tokens_per_second, mfu, _ = fields
            if is_open and last < iteration <= most_iterations and clock is None and seconds is not None \
                    and 0 <= seconds < most_seconds and -inf < loss < inf and (mfu is None or 0 <= mfu < most_throughput) \
                    and (max_iterations is None or 1 <= max_iterations <= most_iterations) \
                    and (tokens_per_second is None or 0 <= tokens_per_second < most_throughput):
                steps = iteration - last
                gap(steps)
                elapsed += seconds * steps
                if iteration >= warm_until:
                    sample((iteration, seconds))
                if max_iterations is not None:
                    most = max_iterations
                if tokens_per_second is not None:
                    rate = tokens_per_second
                last, latest = iteration, fields
                continue
            event = Progress(*fields)
        else:
            try:
                event = (other if found is None else parse)(line) or crash(line)
            except Exception as exc:  # noqa: BLE001 - any one line's trouble stays with that line
                model.ignore(line, exc)
                continue
            if event is None:
                not_understood += 1
                continue
        if latest is not None:
            _settle(model, latest, arrived, elapsed, most, rate, samples)
            latest = most = rate = None
            samples.clear()
        model.apply(event, line, arrived)
        is_open, last, warm_until, elapsed, gap = _state(model)
    if latest is not None:
        _settle(model, latest, arrived, elapsed, most, rate, samples)
    return not_understood


def _feed_events(model: RunModel, lines: list[str], arrived: float | None,
                 parse: Callable[[str], Event | None]) -> int:
    """Every line through the parser and the model's handlers (a format without a progress line)."""
    crash = crash_markers.parse
    not_understood = 0
    for line in lines:
        try:
            event = parse(line) or crash(line)
        except Exception as exc:  # noqa: BLE001
            model.ignore(line, exc)
            continue
        if event is None:
            not_understood += 1
        else:
            model.apply(event, line, arrived)
    return not_understood


def _state(model: RunModel) -> tuple:
    """What the common case reads of the model: whether it applies now (a progress line seen in
    this segment, no eval since), the last iteration, the first iteration past the warm-up, the
    elapsed time, and the appender of the gaps between lines."""
    timing, last = model.timing, model._last
    is_open = last is not None and not model._new_segment and not timing.eval_pending
    return (is_open, last.iteration if last is not None else 0, (model._segment_start or 0) + WARMUP_ITERATIONS,
            timing.elapsed, timing.line_gaps.append)


def _settle(model: RunModel, fields: tuple, arrived: float | None, elapsed: float, most: int | None,
            rate: float | None, samples: list[tuple[int, float]]) -> None:
    """Write the progress applied since the last settle into the model, as its handler does for
    one line: ``fields`` are the latest line's, ``most`` and ``rate`` the latest maximum iterations
    and throughput given, ``samples`` the step times of the lines since."""
    model.timing.elapsed = elapsed
    if samples:
        model.timing.sample_all(samples)
    model._last, model._last_arrived = Progress(*fields), arrived
    if arrived is not None:
        model._last_progress_ts = arrived
    model._crashed = False
    model.losses.latest, model.losses.latest_finite = fields[1], True
    model._mfu = fields[6]
    if most is not None:
        model._max_from_log = most
    if rate is not None:
        model._tokens_per_second = rate
