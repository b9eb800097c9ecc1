"""karpathy/nanochat ``scripts/base_train.py`` stdout:
``step 00042/21400 (0.20%) | loss: 3.2 | lrm: 1.00 | dt: 512.3ms | tok/sec: 1,023,000 | bf16_mfu: 45.1 | ...``.

The step line prints the 0-based index of the step just taken, so the iteration reported is that
index + 1 (steps completed); ``Step N | Validation bpb: X`` runs before step N, after N steps.
``dt`` is one step's wall time without evaluation (``total time`` is left out: it skips the first 10
steps and is printed to 0.6 s).
"""

from __future__ import annotations

import re

from exporter.events import Eval, Event, Progress, RunEnd, RunStart
from exporter.formats.numbers import count, nonnegative, real

NAME = "nanochat"

_HEAD = re.compile(r"^step (\d++)/(\d++) \([\d.]++%\)$")
_NUMBER = re.compile(r"[-+]?(?:\d[\d,]*+(?:\.\d*+)?(?:[eE][-+]?\d++)?|nan|inf)")
_VALIDATION = re.compile(r"^Step (\d++) \| Validation bpb: ([-+]?[\d.]++|nan|inf)\s*+$")


def _number(text: str | None) -> float | None:
    """The number a ``key: value`` field starts with (``512.3ms``, ``1,023,000``, ``12.5m``)."""
    if text is None or not (match := _NUMBER.match(text.strip())):
        return None
    return real(match[0].replace(",", ""))


def _progress(line: str) -> Progress | None:
    head, *fields = line.rstrip().split(" | ")
    if not (match := _HEAD.match(head)):
        return None
    values = dict(field.split(": ", 1) for field in fields if ": " in field)
    step, loss, dt_ms = count(match[1]), _number(values.get("loss")), nonnegative(_number(values.get("dt")))
    if step is None or loss is None or dt_ms is None:
        return None
    mfu = nonnegative(_number(values.get("bf16_mfu", values.get("mfu"))))
    return Progress(
        iteration=step + 1,
        loss=loss,
        max_iterations=count(match[2]),
        iteration_seconds=dt_ms / 1000.0,
        tokens_per_second=nonnegative(_number(values.get("tok/sec"))),
        mfu_ratio=mfu / 100.0 if mfu is not None else None,
    )


def parse(line: str) -> Event | None:
    if line.startswith("step "):
        return _progress(line)
    if match := _VALIDATION.match(line):
        step, bpb = count(match[1]), real(match[2])
        return Eval({"val": bpb}, iteration=step) if step is not None and bpb is not None else None
    if line.startswith("Total training time: "):
        return RunEnd()
    if line.startswith("Resuming optimization from step "):
        return RunStart(resumed=True)
    return None
