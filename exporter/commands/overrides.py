"""Trainer settings a user overrides (``--override KEY=VALUE``, the config's ``overrides:``, and
``plan``'s ``--override``): one check of their names and values, every problem said at once."""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from typing import Any

from exporter.trainer.nanogpt import KEYS as NANOGPT_KEYS
from exporter.run.bounds import COUNT_SETTINGS
from exporter.trainer.config_file import parse_override

# Every setting the exporter and the planner read: nanoGPT's train.py settings and the counts the
# run model takes from any trainer.
KNOWN = frozenset(NANOGPT_KEYS) | frozenset(COUNT_SETTINGS)

_SUFFIXES = {"k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}


def number(text: str) -> float:
    """``3.68e9``, ``3.68B``, ``40.56M``, ``20k``, ``524,288`` -> a float; ValueError if it is none."""
    raw = text.strip().replace(",", "").replace("_", "")
    scale = _SUFFIXES.get(raw[-1:].lower(), 1.0) if raw else 1.0
    if scale != 1.0:
        raw = raw[:-1]
    try:
        return float(raw) * scale
    except ValueError:
        raise ValueError(f"{text!r} is not a number (e.g. 3.68e9 or 3.68B)") from None


def amount(text: str) -> float:
    """A positive :func:`number`; ValueError saying why not."""
    value = number(text)
    if not 0 < value < math.inf:
        raise ValueError(f"{text!r} must be a positive number")
    return value


def whole_number(text: str) -> int:
    """``5000``, ``5k``, ``2e4`` -> an int; ValueError for anything else."""
    value = number(text)
    if not math.isfinite(value) or value != int(value):
        raise ValueError(f"{text!r} is not a whole number")
    return int(value)


def count(key: str, value: Any) -> int:
    """A count setting's value (``max_iters``, ``batch_size``, …) as a whole number of 1 or more
    within its bounds; ValueError saying what is wrong."""
    highest = COUNT_SETTINGS[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 1:
        raise ValueError(f"expected a whole number of 1 or more, got {value!r}")
    if value != int(value):
        raise ValueError(f"expected a whole number, got {value!r}")
    if value > highest:
        raise ValueError(f"{value:,} is more than {highest:,}")
    return int(value)


def unknown_name(name: str, known: Iterable[str], what: str) -> str:
    """``unknown key; did you mean port?``, or the known names when none is close."""
    names = sorted(known)
    close = difflib.get_close_matches(name, names, n=1)
    if close:
        return f"unknown {what}; did you mean {close[0]}?"
    return f"unknown {what} (known: {', '.join(names)})"


def read(key: str, value: Any) -> Any:
    """What an override means: a count as an int (text such as ``20k`` read as an amount), any
    other known setting as given; ValueError saying what is wrong and how to write it."""
    if key not in KNOWN:
        raise ValueError(unknown_name(key, KNOWN, "trainer setting"))
    if key not in COUNT_SETTINGS:
        return value
    if isinstance(value, str):
        try:
            value = number(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a number; write a whole number such as 5000, 5k or 5e3") from None
    return count(key, value)


def problems(values: Mapping[Any, Any]) -> list[str]:
    """One ``key: problem`` line per bad override, in order."""
    found = []
    for key, value in values.items():
        try:
            read(str(key), value)
        except ValueError as exc:
            found.append(f"{key}: {exc}")
    return found


def normalized(values: Mapping[str, Any]) -> dict[str, Any]:
    """The overrides as :func:`read` understands them; call only once :func:`problems` is empty."""
    return {key: read(key, value) for key, value in values.items()}


def from_flags(texts: Iterable[str]) -> tuple[dict[str, Any], list[str]]:
    """``--override KEY=VALUE`` texts -> the good overrides, read, and one problem per bad text."""
    good: dict[str, Any] = {}
    found: list[str] = []
    for text in texts:
        try:
            key, value = parse_override(text)
        except ValueError as exc:
            found.append(f"--override: {exc}")
            continue
        try:
            good[key] = read(key, value)
        except ValueError as exc:
            found.append(f"--override {key}: {exc}")
    return good, found
