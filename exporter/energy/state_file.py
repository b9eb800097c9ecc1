"""The energy state file: a small JSON document, checked field by field when read back.

It holds one state per run. A file of one run is a version-1 document, the state itself (what
single-run releases wrote and read); with several runs it is ``{"version": 2, "runs": [state, ...]}``.

A file that cannot be taken as a state (not UTF-8 text, not JSON, numbers that are not finite or
out of range, the wrong shape) or cannot be read is never overwritten silently: it is renamed to
``<name>.corrupt-<unix time>`` and reported, and the run's energy starts from zero."""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

VERSION = 1  # one run: the state itself
RUNS_VERSION = 2  # several runs: {"version": 2, "runs": [...]}
MAX_BYTES = 4 << 20
MAX_RUNS = 5000  # states in one file: every run an exporter follows and those kept for others
MAX_READINGS = 256  # GPUs a state may hold readings for
MAX_JOULES = 1e18


@dataclass(frozen=True)
class SavedState:
    run: str
    energy_joules: float
    readings: dict[str, float] = field(default_factory=dict)
    power_watts: float | None = None
    updated_at: float | None = None
    finished: bool = False
    price_per_kwh: float | None = None  # the tariff the serving exporter priced the energy at
    currency: str | None = None


class CorruptState(ValueError):
    """The file is not a state this exporter wrote; the message says what is wrong."""


def _number(state: dict[str, Any], key: str, high: float, *, optional: bool = True) -> float | None:
    value = state.get(key)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= high:
        raise CorruptState(f"{key} is {str(value)[:40]}, not a number in 0..{high:g}")
    return float(value)


def _json(text: str) -> Any:
    try:
        return json.loads(text, parse_constant=lambda name: math.nan)
    except (ValueError, RecursionError) as exc:
        raise CorruptState(f"not JSON ({type(exc).__name__}: {str(exc)[:80]})") from None


def parse(text: str) -> SavedState:
    """The :class:`SavedState` of a version-1 document, or :class:`CorruptState`."""
    return _state(_json(text))


def parse_all(text: str) -> list[SavedState]:
    """Every run's state in the file's text, either version, or :class:`CorruptState`."""
    document = _json(text)
    if not isinstance(document, dict) or document.get("version") != RUNS_VERSION:
        return [_state(document)]
    runs = document.get("runs")
    if not isinstance(runs, list) or len(runs) > MAX_RUNS:
        raise CorruptState(f"runs is not a list of at most {MAX_RUNS} states")
    return [_state(state) for state in runs]


def _state(state: Any) -> SavedState:
    if not isinstance(state, dict) or not isinstance(state.get("run"), str):
        raise CorruptState("not an object with a run name")
    readings = state.get("readings", {})
    if not isinstance(readings, dict) or len(readings) > MAX_READINGS:
        raise CorruptState("readings is not a mapping of GPU UUIDs to joules")
    currency = state.get("currency")
    if currency is not None and (not isinstance(currency, str) or len(currency) > 16):
        raise CorruptState("currency is not a short text")
    return SavedState(
        run=state["run"],
        energy_joules=_number(state, "energy_joules", MAX_JOULES, optional=False),
        readings={str(uuid)[:128]: _number(readings, uuid, MAX_JOULES, optional=False) for uuid in readings},
        power_watts=_number(state, "power_watts", 1e7),
        updated_at=_number(state, "updated_at", 1e11),
        finished=state.get("finished") is True,
        price_per_kwh=_number(state, "price_per_kwh", 1e6),
        currency=currency,
    )


def load(path: Path) -> list[SavedState]:
    """The states saved at ``path``; none when there is no file, or it was corrupt (then kept aside)."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        return []
    except OSError as exc:
        _keep_aside(path, f"cannot be read: {exc.strerror or exc}")
        return []
    try:
        if len(data) > MAX_BYTES:
            raise CorruptState(f"larger than {MAX_BYTES} bytes")
        return parse_all(_text(data))
    except CorruptState as exc:
        _keep_aside(path, str(exc))
        return []


def _text(data: bytes) -> str:
    """``data`` as UTF-8 text (as written), or :class:`CorruptState` naming the first bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bom = " (a UTF-16 byte-order mark: saved by an editor as UTF-16?)" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        raise CorruptState(f"not UTF-8 text: byte 0x{data[exc.start]:02x} at offset {exc.start}{bom}") from None


def _keep_aside(path: Path, problem: str) -> None:
    aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
    try:
        os.replace(path, aside)
    except OSError as exc:
        log.error("the energy state file %s is corrupt (%s) and cannot be moved aside (%s); fix or remove "
                  "it: energy counts from zero", path, problem, exc.strerror or exc)
        return
    log.error("the energy state file %s was corrupt (%s): kept as %s; energy counts from zero", path, problem, aside)


def save(path: Path, states: list[SavedState]) -> None:
    """Write ``states`` (version 1 for one run) to a temporary file and rename it into place
    (raises OSError)."""
    if len(states) == 1:
        document = {"version": VERSION, **asdict(states[0])}
    else:
        document = {"version": RUNS_VERSION, "runs": [asdict(state) for state in states]}
    text = json.dumps(document, indent=1, allow_nan=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
