"""KellerJordan/modded-nanogpt ``logs/<run>.txt``: ``step:N/M [train_loss:X] train_time:Tms step_avg:Ams``
and ``step:N/M val_loss:X train_time:...``; early (Jun 2024) records print llm.c's step line.

The file starts with the trainer's own source code and nvidia-smi output; only lines that begin
with ``step:`` and carry numbers count. ``train_time`` is a training clock that stops during
validation and restarts from 0 after the warm-up steps (2024 records): it is reported as printed,
as ``elapsed_seconds``; the run model reads a drop as a timer reset.
"""

from __future__ import annotations

import re

from exporter.events import Eval, Event, Progress, RunEnd
from exporter.formats import llmc
from exporter.formats.numbers import PATTERN as _NUM
from exporter.formats.numbers import count, nonnegative, real

NAME = "modded"

_LINE = re.compile(
    rf"^step:(?P<step>\d++)/(?P<max>\d++)"
    rf"(?: val_loss:(?P<val>{_NUM}))?(?: train_loss:(?P<loss>{_NUM}))?"
    rf" train_time:(?P<time>{_NUM})(?P<unit>ms|s)(?: step_avg:{_NUM}(?:ms|s))?\s*+$"
)


def _event(match: re.Match[str]) -> Event | None:
    step = count(match["step"])
    if step is None:
        return None
    if match["val"] is not None:
        val = real(match["val"])
        return Eval({"val": val}, iteration=step) if val is not None else None
    loss, elapsed = real(match["loss"]), nonnegative(real(match["time"]))
    if elapsed is None or (loss is None and match["loss"] is not None):
        return None
    return Progress(
        iteration=step,
        loss=loss,
        max_iterations=count(match["max"]),
        elapsed_seconds=elapsed * (1e-3 if match["unit"] == "ms" else 1.0),
    )


def parse(line: str) -> Event | None:
    if match := _LINE.match(line):
        return _event(match)
    if line.startswith("peak memory allocated:"):
        return RunEnd()
    return llmc.parse_python_step(line)
