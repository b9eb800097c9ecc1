"""Log lines that carry their own arrival time, ``<Unix seconds> <line>`` as ``ts '%.s'`` writes
them. Such a log says when each line was written even when it is read long after: a backfill (and
``status``) then measures eval pauses and silences from the stamps, as a live follower does from
arrival times. A stamp is 9–10 digits with an optional fraction (2001–2286), so an iteration count
at the start of a line is not mistaken for one."""

from __future__ import annotations

import re
from typing import Protocol

_STAMP = re.compile(r"(\d{9,10}(?:\.\d{1,9})?) ")


class LineSink(Protocol):
    def feed_lines(self, lines: list[str], arrived: float | None) -> None: ...


def split(line: str) -> tuple[float | None, str]:
    """The line's stamp (None without one) and the line without it."""
    match = _STAMP.match(line)
    if match is None:
        return None, line
    return float(match[1]), line[match.end():]


def feed(sink: LineSink, lines: list[str], arrived: float | None) -> None:
    """Hand ``lines`` read together to ``sink``: each stamped line at its own stamp, the others at
    ``arrived``. A batch whose first line has no stamp goes as it is (the common, unstamped log
    pays one match per read, not per line)."""
    if not lines or _STAMP.match(lines[0]) is None:
        sink.feed_lines(lines, arrived)
        return
    group: list[str] = []
    group_at = arrived
    for line in lines:
        stamp, text = split(line)
        at = arrived if stamp is None else stamp
        if group and at != group_at:
            sink.feed_lines(group, group_at)
            group = []
        group_at = at
        group.append(text)
    sink.feed_lines(group, group_at)
