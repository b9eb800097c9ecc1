"""tqdm progress-bar updates, shared by the bar-printing formats (Hugging Face, Lightning).

tqdm redraws its bar with ``\\r``, so one ``\\n``-terminated line can hold many updates; bars drawn at
a position below the first (evaluation bars) move the cursor back up with ``ESC[A`` and are skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from exporter.formats.numbers import count, nonnegative, real

_MOVE_UP = "\x1b[A"
BAR_MARK = "%|"  # in every bar update: a line without it holds none
_MAX_BAR_CHARS = 4096  # one update of a bar, postfix included; longer text is no bar
# Runs are matched possessively, and the description starts after the indentation and holds no
# "|", so a failing match is tried from one description at most: linear in the segment.
_BAR = re.compile(
    r"^\s*+(?:(?P<desc>[^\s|][^|]*?): *+)?(?P<percent>\d++)%\|[^|]*+\| *+(?P<n>\d++)/(?P<total>\d++) "
    r"\[(?P<elapsed>[\d:]++)<(?P<remaining>[\d:?]++), *+(?P<rate>[\d.]++|\?)(?P<unit>it/s|s/it)"
    r"(?P<postfix>[^\]]*+)\]\s*+$"
)


@dataclass(frozen=True, slots=True)
class Bar:
    desc: str
    n: int
    total: int
    elapsed_seconds: float
    iteration_seconds: float | None
    postfix: dict[str, str]


def interval_seconds(text: str) -> float | None:
    """tqdm's ``[H:]MM:SS`` as seconds, or None."""
    seconds = 0.0
    for part in text.split(":", 3):
        if (number := count(part)) is None:
            return None
        seconds = seconds * 60 + number
    return seconds


def _postfix(text: str) -> dict[str, str]:
    pairs = (item.split("=", 1) for item in text.split(",") if "=" in item)
    return {key.strip(): value.strip() for key, value in pairs}


def parse_bar(segment: str) -> Bar | None:
    """One complete update (no ``\\r`` inside) of a bar in the first position, or None."""
    return None if _MOVE_UP in segment else _parse(segment)


def parse_bar_below(segment: str) -> Bar | None:
    """One complete update of a bar drawn below the first (it ends by moving the cursor up)."""
    return _parse(segment.replace(_MOVE_UP, "")) if segment.rstrip().endswith(_MOVE_UP) else None


def _parse(segment: str) -> Bar | None:
    if len(segment) > _MAX_BAR_CHARS or not (match := _BAR.match(segment)):
        return None
    n, total, elapsed = count(match["n"]), count(match["total"]), interval_seconds(match["elapsed"])
    if n is None or total is None or elapsed is None:
        return None
    rate = nonnegative(real(match["rate"]))
    if not rate:  # "?", 0 or no number
        seconds = None
    elif match["unit"] == "s/it":
        seconds = rate
    else:
        seconds = 1.0 / rate
    return Bar(
        desc=(match["desc"] or "").strip(),
        n=n,
        total=total,
        elapsed_seconds=elapsed,
        iteration_seconds=seconds,
        postfix=_postfix(match["postfix"]),
    )
