"""tqdm progress-bar updates, shared by the bar-printing formats (Hugging Face, Lightning).

tqdm redraws its bar with ``\\r``, so one ``\\n``-terminated line can hold many updates; bars drawn at
a position below the first (evaluation bars) move the cursor back up with ``ESC[A`` and are skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_MOVE_UP = "\x1b[A"
_BAR = re.compile(
    r"^\s*(?:(?P<desc>.*?): *)?(?P<percent>\d+)%\|[^|]*\| *(?P<n>\d+)/(?P<total>\d+) "
    r"\[(?P<elapsed>[\d:]+)<(?P<remaining>[\d:?]+), *(?P<rate>[\d.]+|\?)(?P<unit>it/s|s/it)"
    r"(?P<postfix>[^\]]*)\]\s*$"
)


@dataclass(frozen=True, slots=True)
class Bar:
    desc: str
    n: int
    total: int
    elapsed_seconds: float
    iteration_seconds: float | None
    postfix: dict[str, str]


def interval_seconds(text: str) -> float:
    """tqdm's ``[H:]MM:SS`` as seconds."""
    seconds = 0.0
    for part in text.split(":"):
        seconds = seconds * 60 + int(part)
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
    if not (match := _BAR.match(segment)):
        return None
    rate = match["rate"]
    if rate == "?" or float(rate) == 0:
        seconds = None
    elif match["unit"] == "s/it":
        seconds = float(rate)
    else:
        seconds = 1.0 / float(rate)
    return Bar(
        desc=(match["desc"] or "").strip(),
        n=int(match["n"]),
        total=int(match["total"]),
        elapsed_seconds=interval_seconds(match["elapsed"]),
        iteration_seconds=seconds,
        postfix=_postfix(match["postfix"]),
    )

