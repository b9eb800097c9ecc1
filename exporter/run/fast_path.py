"""The run model's hot loop: the lines of a known format, applied in order.

A format's usual progress line (:class:`~exporter.formats.ProgressLine`) in the common case — the
same segment, the iteration rising, no eval since the last one, the trainer's own time of the
iteration, a finite loss, every value within bounds — is applied here without building an event:
only the timing windows, the elapsed time, the losses (for the health detectors too) and the MFU
change. The lines the progress pattern matches are held until the next line that is an event; a held run whose lines are all the
usual case is converted column by column (where the format offers columns) and applied at once,
any other run line by line. Either way the :class:`Progress` event is built once, for the latest
line, and its step-time samples are recorded together. Every other line goes through the format's
parser and the model's handlers, so the model ends up the same either way. This module does not
know the model: it reads what it needs through :meth:`Target.progress_state` and hands each run of
usual lines back as one :class:`ProgressRun` for :meth:`Target.settle` to write in."""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import islice
from math import inf as _INF
from math import isfinite
from operator import lt
from typing import NamedTuple, Protocol

from exporter.events import Event, Progress
from exporter.formats import ProgressLine
from exporter.formats import errors as crash_markers
from exporter.run.bounds import MAX_ITERATIONS, MAX_MFU_RATIO, MAX_SECONDS, MAX_THROUGHPUT


class ProgressRun(NamedTuple):
    """Usual progress lines applied together: ``fields`` are the latest line's (a
    :class:`Progress`'s fields), ``most`` and ``rate`` the latest maximum iterations and throughput
    given, ``iterations``, ``seconds_each`` and ``losses`` those of every line (rising), and
    ``grad_norms`` too where the lines print one (None in the list where a line does not)."""
    fields: tuple
    arrived: float | None
    most: int | None
    rate: float | None
    iterations: list[int]
    seconds_each: list[float]
    losses: list[float]
    grad_norms: list[float | None] | None = None


class Target(Protocol):
    """What the fast path applies lines to (the run model)."""

    def apply(self, event: Event, line: str, arrived: float | None) -> None: ...

    def ignore(self, line: str, exc: Exception) -> None: ...

    def progress_state(self) -> tuple[bool, int]:
        """Whether the usual case applies now (a progress line seen in this segment, no eval
        since) and the last iteration."""
        ...

    def settle(self, run: ProgressRun) -> None:
        """Write ``run`` in, as the progress handler would have line by line."""
        ...

_groups = re.Match.groups
BLOCK_LINES = 2048  # lines fed at a time: the progress lines held, and their columns, stay small


def feed(model: Target, lines: list[str], arrived: float | None, parse: Callable[[str], Event | None],
         progress: ProgressLine | None) -> int:
    """Apply ``lines`` of the format read by ``parse`` to ``model``; returns how many were not
    understood."""
    if progress is None:
        return _feed_events(model, lines, arrived, parse)
    if len(lines) > BLOCK_LINES:
        return sum(feed(model, lines[start:start + BLOCK_LINES], arrived, parse, progress)
                   for start in range(0, len(lines), BLOCK_LINES))
    match, other, crash = progress.pattern.match, progress.other, crash_markers.parse
    not_understood, held = 0, []  # held: the matches of the progress pattern since the last event
    hold = held.append
    for line in lines:
        if (found := match(line)) is not None:
            hold(found)
            continue
        try:
            event, trouble = other(line) or crash(line), None
        except Exception as exc:  # noqa: BLE001 - any one line's trouble stays with that line
            event, trouble = None, exc
        if event is None and trouble is None:
            not_understood += 1  # leaves the model as it is: the progress lines around it stay held together
            continue
        if held:
            not_understood += _progress_lines(model, held, arrived, parse, progress)
            held.clear()
        if trouble is not None:
            model.ignore(line, trouble)
        else:
            model.apply(event, line, arrived)
    if held:
        not_understood += _progress_lines(model, held, arrived, parse, progress)
    return not_understood


def _progress_lines(model: Target, held: list[re.Match[str]], arrived: float | None,
                    parse: Callable[[str], Event | None], progress: ProgressLine) -> int:
    """Apply consecutive lines the progress pattern matched: all at once where every one is the
    usual case (the first after a start, resume or eval goes through the handlers first), else
    one by one. Returns how many were not understood."""
    not_understood = 0
    is_open, last = model.progress_state()
    if not is_open:
        not_understood, held = _one_by_one(model, held[:1], arrived, parse, progress.fields), held[1:]
        is_open, last = model.progress_state()
    # a format with columns prints no maximum, throughput or clock on its progress line: None, None
    if held and is_open and progress.columns is not None \
            and (usual := _usual(progress.columns, held, last)) is not None:
        model.settle(ProgressRun(progress.fields(*held[-1].groups()), arrived, None, None, *usual))
        return not_understood
    return not_understood + _one_by_one(model, held, arrived, parse, progress.fields)


def _usual(columns_of: Callable[[list[tuple]], tuple | None], held: list[re.Match[str]],
           last: int) -> tuple[list[int], list[float], list[float]] | None:
    """The iterations, step seconds and losses of ``held`` when every line is the usual case (iterations
    rising from ``last``, a step time, a finite loss, every value within bounds), else None."""
    if (columns := columns_of(list(map(_groups, held)))) is None:
        return None
    iterations, losses, seconds, mfu = columns
    if last < iterations[0] and iterations[-1] <= MAX_ITERATIONS and all(map(lt, iterations, islice(iterations, 1, None))) \
            and _within(seconds, MAX_SECONDS, timed=True) and isfinite(sum(losses)) \
            and (mfu is None or _within(mfu, MAX_MFU_RATIO)):
        return iterations, seconds, losses
    return None


def _within(values: list[float], most: float, timed: bool = False) -> bool:
    """Whether every one of ``values`` is a number in ``0 <= value < most`` (a NaN makes the sum NaN);
    ``timed``: step times, 0 excluded (an unmeasured step, which the model leaves out)."""
    return (0 < min(values) if timed else 0 <= min(values)) and max(values) < most and isfinite(sum(values))


def _one_by_one(model: Target, held: list[re.Match[str]], arrived: float | None,
                parse: Callable[[str], Event | None], to_fields: Callable[..., tuple | None]) -> int:
    """Apply lines the progress pattern matched one at a time: the usual case without an event,
    the others through the parser and the model's handlers. Returns how many were not understood."""
    latest = most = rate = None  # the latest line applied here, not yet to the model: fields, maximum, throughput
    # of the lines applied here since the last settle
    not_understood, iterations, seconds_each, losses, norms = 0, [], [], [], []
    is_open, last = model.progress_state()
    most_iterations, most_seconds, most_throughput, inf = MAX_ITERATIONS, MAX_SECONDS, MAX_THROUGHPUT, _INF
    most_mfu = MAX_MFU_RATIO
    for found in held:
        line = found.string
        if (fields := to_fields(*found.groups())) is not None:
            iteration, loss, max_iterations, seconds, clock, tokens_per_second, mfu, _, norm = fields
            if is_open and last < iteration <= most_iterations and clock is None and seconds is not None \
                    and 0 < seconds < most_seconds and -inf < loss < inf and (mfu is None or 0 <= mfu < most_mfu) \
                    and (max_iterations is None or 1 <= max_iterations <= most_iterations) \
                    and (tokens_per_second is None or 0 <= tokens_per_second < most_throughput):
                iterations.append(iteration)
                seconds_each.append(seconds)
                losses.append(loss)
                norms.append(norm)
                most = max_iterations if max_iterations is not None else most
                rate = tokens_per_second if tokens_per_second is not None else rate
                last, latest = iteration, fields
                continue
            event = Progress(*fields)
        else:
            try:
                event = parse(line) or crash_markers.parse(line)
            except Exception as exc:  # noqa: BLE001 - any one line's trouble stays with that line
                model.ignore(line, exc)
                continue
            if event is None:
                not_understood += 1
                continue
        if latest is not None:
            model.settle(ProgressRun(latest, arrived, most, rate, iterations, seconds_each, losses, norms))
            latest = most = rate = None
            iterations, seconds_each, losses, norms = [], [], [], []
        model.apply(event, line, arrived)
        is_open, last = model.progress_state()
    if latest is not None:
        model.settle(ProgressRun(latest, arrived, most, rate, iterations, seconds_each, losses, norms))
    return not_understood


def _feed_events(model: Target, lines: list[str], arrived: float | None,
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

