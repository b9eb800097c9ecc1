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
    """One complete bar update (no ``\\r`` inside), or None."""
    if _MOVE_UP in segment or not (match := _BAR.match(segment)):
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


def last_bar(line: str) -> Bar | None:
    """The last complete first-position bar update among the ``\\r``-separated pieces of ``line``."""
    for segment in reversed(line.split("\r")):
        if bar := parse_bar(segment):
            return bar
    return None
