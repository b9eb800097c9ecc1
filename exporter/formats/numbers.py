"""Numbers read from log text, bounded: every parser turns text into numbers here and never calls
``float()`` or ``int()`` itself, so no line, however long or odd, raises or costs more than a
few microseconds to convert."""

from __future__ import annotations

import math
from collections.abc import Sequence

MAX_CHARS = 48  # longest number text read (a printed float or count is far shorter)
MAX_COUNT = 10**15  # largest count a line may carry (iterations, tokens)

# A number as trainers print it (``12``, ``-3.5``, ``6.00e-04``, ``nan``, ``-inf``). One way only to
# match a digit run, taken possessively (``++``): a failing match never backtracks into it. The
# parsers' patterns follow the same rule for every run they match.
PATTERN = r"[-+]?(?:\d++(?:\.\d*+)?(?:[eE][-+]?\d++)?|nan|inf)"


def real(text: str | None) -> float | None:
    """``text`` as a float (``nan`` and ``inf`` included), or None: no number, or over
    :data:`MAX_CHARS` characters."""
    if text is None or len(text) > MAX_CHARS:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def count(text: str | None) -> int | None:
    """A whole count in decimal digits (thousands separated by ``,`` or not) within
    ``0..MAX_COUNT``, or None."""
    if text is None or len(text) > MAX_CHARS:
        return None
    if "," in text:
        text = text.replace(",", "")
    try:
        number = int(text)
    except ValueError:
        return None
    return number if 0 <= number <= MAX_COUNT else None


def count_and_reals(whole: str, first: str, second: str, third: str | None) -> tuple | None:
    """``(count(whole), real(first), real(second), real(third))`` in one call (a progress line's
    numbers on a backfill's hot path), or None when one of them is None (``third`` may be None)."""
    if len(whole) + len(first) + len(second) + (len(third) if third is not None else 0) > MAX_CHARS or "," in whole:
        numbers = count(whole), real(first), real(second)
        if None in numbers or (third is not None and real(third) is None):
            return None
        return *numbers, real(third)
    try:
        number = int(whole)
        return (number, float(first), float(second), float(third) if third is not None else None) \
            if 0 <= number <= MAX_COUNT else None
    except ValueError:
        return None


def counts(texts: Sequence[str]) -> list[int] | None:
    """``[count(text) for text in texts]`` (a run of progress lines' numbers, converted at once), or
    None when one of them is None."""
    try:
        if max(map(len, texts), default=0) <= MAX_CHARS and (numbers := list(map(int, texts))) \
                and 0 <= min(numbers) and max(numbers) <= MAX_COUNT:
            return numbers
    except ValueError:
        pass
    numbers = list(map(count, texts))
    return None if None in numbers else numbers


def reals(texts: Sequence[str | None]) -> list[float] | None:
    """``[real(text) for text in texts]``, converted at once, or None when one of them is None."""
    try:
        if None not in texts and max(map(len, texts), default=0) <= MAX_CHARS:
            return list(map(float, texts))
    except ValueError:
        pass
    numbers = list(map(real, texts))
    return None if None in numbers else numbers


def nonnegative(number: float | None) -> float | None:
    """``number`` when it is finite and not negative (a time, a rate, a ratio), else None."""
    return number if number is not None and 0 <= number < math.inf else None


def magnitude(number: float | None) -> float | None:
    """``number`` when it is not negative, nan and inf included (a gradient norm that blew up), else None."""
    return number if number is not None and not number < 0 else None


def value(raw: object) -> float | None:
    """A number decoded from JSON or a Python literal: an int, a float or a numeric string (not a
    bool); None for anything else, or an int too large for a float."""
    if isinstance(raw, str):
        return real(raw)
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        return None
    try:
        return float(raw)
    except OverflowError:
        return None


def whole(raw: object) -> int | None:
    """A count decoded from JSON or a Python literal (``12``, ``12.0``, ``"12"``) within
    ``0..MAX_COUNT``, or None."""
    number = value(raw)
    if number is None or not 0 <= number <= MAX_COUNT or not number.is_integer():
        return None
    return int(number)
