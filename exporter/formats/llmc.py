"""karpathy/llm.c: ``train_gpt2.cu`` / ``train_gpt2.c`` / ``train_gpt2.py`` stdout (current and older
step-line variants) and the ``main.log`` written with ``-o DIR`` (``s:N trl:X``, ``s:N tel:X``).

Iterations are steps completed: most stdout step lines already print ``step + 1``; ``main.log``
records a train step under its 0-based index (so ``s:N trl`` is step N + 1 done) and an eval
before step N runs (``s:N tel`` is after N steps).
"""

from __future__ import annotations

import re

from exporter.events import Checkpoint, Eval, Event, Progress, RunEnd
from exporter.formats.numbers import PATTERN as _NUM
from exporter.formats.numbers import count, magnitude, nonnegative, real

NAME = "llmc"

# current (2024-06-25 on): loss with a z-score "(+0.12z)" or "(z +0.12)"; 2024-05-25: "train loss"
_STEP = re.compile(
    rf"^step ++(?P<step>\d++)/(?P<max>\d++) \| (?:train )?loss ++(?P<loss>{_NUM}) *+(?:\([^)]*+\) *+)?\|"
    rf" norm ++(?P<norm>{_NUM}) *+(?:\([^)]*+\) *+)?\| lr ++{_NUM} \| ++(?P<ms>{_NUM}) ms \|"
    rf" ++(?P<mfu>{_NUM})% [^|]*MFU \| ++(?P<tps>{_NUM}) tok/s\s*+$"
)
# train_gpt2.py (also modded-nanogpt, Jun 2024): "... | lr 6.00e-04 | (123.45 ms | 42000 tok/s)"
_STEP_PY = re.compile(
    rf"^step ++(?P<step>\d++)/(?P<max>\d++) \| train loss (?P<loss>{_NUM}) \| norm (?P<norm>{_NUM}) \|"
    rf" lr {_NUM} \| \((?P<ms>{_NUM}) ms \| (?P<tps>{_NUM}) tok/s\)\s*+$"
)
# 2024-04 and train_gpt2.c: "step 12: train loss 4.5 (took 123.4 ms)"
_STEP_TOOK = re.compile(rf"^step (?P<step>\d++): train loss (?P<loss>{_NUM}) \(took (?P<ms>{_NUM}) ms\)\s*+$")
# "step   12/74: train loss 4.5 (123.4 ms, 42000 tok/s)"
_STEP_SHORT = re.compile(
    rf"^step ++(?P<step>\d++)/(?P<max>\d++): train loss (?P<loss>{_NUM}) \((?P<ms>{_NUM}) ms, (?P<tps>\d++) tok/s\)\s*+$"
)
_VAL = re.compile(rf"^val loss ({_NUM})\s*+$")
_CHECKPOINT = re.compile(r"^Writing checkpoint at step (\d++)\s*+$")
_AVERAGE = re.compile(rf"^total average iteration time: {_NUM} ms\s*+$")
_MAIN_TRAIN = re.compile(rf"^s:(\d++) trl:({_NUM})(?: |$)(?:.*? norm:({_NUM})(?: |$))?")
_MAIN_VAL = re.compile(rf"^s:(\d++) tel:({_NUM})\s*+$")


def _fields(step: str, max_iterations: str | None, loss: str, ms: str, mfu: str | None, tps: str | None,
            offset: int = 0, norm: str | None = None) -> tuple | None:
    step_done, loss_value, milliseconds = count(step), real(loss), nonnegative(real(ms))
    if step_done is None or loss_value is None or milliseconds is None:
        return None
    # an unknown GPU has no peak in llm.c's table and prints -100.0%
    mfu_percent = nonnegative(real(mfu))
    return (step_done + offset, loss_value, count(max_iterations), milliseconds / 1000.0, None,
            nonnegative(real(tps)), mfu_percent / 100.0 if mfu_percent is not None else None, False,
            magnitude(real(norm)))


# The current step line: the first pattern parse() tries on a line that does not start with "s:".
PROGRESS = _STEP


def progress_fields(step: str, max_iterations: str, loss: str, norm: str, ms: str, mfu: str, tps: str) -> tuple | None:
    """The groups of :data:`PROGRESS` as the fields of a :class:`Progress`, in its field order, or None."""
    return _fields(step, max_iterations, loss, ms, mfu, tps, norm=norm)


def parse_step(line: str, patterns: tuple[re.Pattern[str], ...] = (_STEP, _STEP_PY, _STEP_SHORT, _STEP_TOOK)) -> Progress | None:
    """A stdout step line of any llm.c generation (or only of those in ``patterns``)."""
    for pattern in patterns:
        if match := pattern.match(line):
            break
    else:
        return None
    groups = match.groupdict()
    # only the "(took ... ms)" variant prints the 0-based step index
    fields = _fields(groups["step"], groups.get("max"), groups["loss"], groups["ms"], groups.get("mfu"),
                     groups.get("tps"), 1 if pattern is _STEP_TOOK else 0, groups.get("norm"))
    return Progress(*fields) if fields is not None else None


def parse_python_step(line: str) -> Progress | None:
    """The step line of ``train_gpt2.py`` (which early modded-nanogpt records print too)."""
    return parse_step(line, (_STEP_PY,))


def _eval(loss: str, step: int | None = None) -> Eval | None:
    value = real(loss)
    return Eval({"val": value}, iteration=step) if value is not None else None


def parse(line: str) -> Event | None:
    if line.startswith("s:"):
        if (match := _MAIN_TRAIN.match(line)) and (step := count(match[1])) is not None:
            loss = real(match[2])
            return Progress(iteration=step + 1, loss=loss, grad_norm=magnitude(real(match[3]))) if loss is not None else None
        if (match := _MAIN_VAL.match(line)) and (step := count(match[1])) is not None:
            return _eval(match[2], step)
        return None
    if progress := parse_step(line):
        return progress
    if match := _VAL.match(line):
        return _eval(match[1])
    if match := _CHECKPOINT.match(line):
        return Checkpoint(iteration=count(match[1]))
    if _AVERAGE.match(line):
        return RunEnd()
    return None
