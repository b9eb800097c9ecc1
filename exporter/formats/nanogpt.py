"""karpathy/nanoGPT ``train.py`` stdout: one line in, one event (or None) out."""

from __future__ import annotations

import math
import re

from exporter.events import (
    Checkpoint,
    ConfigValue,
    Eval,
    Event,
    Parameters,
    Progress,
    RunStart,
    TokensPerIteration,
)
from exporter.nanogpt import DEFAULTS, KEYS
from exporter.trainer_config import literal, parse_assignment

NAME = "nanogpt"
__all__ = ["DEFAULTS", "NAME", "parse"]  # DEFAULTS: the trainer's own, for settings its log leaves out

# Numbers are matched loosely and checked by float(): a cheaper pattern on the hot path.
_ITER = re.compile(r"iter (\d+): loss ([^,]+), time ([^m]+)ms(?:, mfu ([^%]+)%)?\s*$")
_EVAL = re.compile(r"step (\d+): train loss ([^,]+), val loss (\S+)\s*$")
_OVERRIDE = re.compile(r"^Overriding: (\w+) = (.*)$")
_PARAMS = re.compile(r"^number of parameters: ([\d.]+)M\s*$")
_TOKENS = re.compile(r"^tokens per iteration will be: ([\d,]+)\s*$")


def _progress(iteration: str, loss: str, milliseconds: str, mfu: str | None) -> Progress | None:
    try:
        mfu_percent = float(mfu) if mfu is not None else -1.0
        seconds = float(milliseconds) / 1000.0
        return Progress(
            iteration=int(iteration),
            loss=float(loss),
            iteration_seconds=seconds if 0 <= seconds < math.inf else None,
            # running_mfu starts at -1 and prints -100.00% until measured
            mfu_ratio=mfu_percent / 100.0 if 0 <= mfu_percent < math.inf else None,
            includes_eval=True,
        )
    except ValueError:  # a number that is not one
        return None


def _eval(iteration: str, train: str, val: str) -> Eval | None:
    try:
        return Eval({"train": float(train), "val": float(val)}, iteration=int(iteration))
    except ValueError:
        return None


def parse(line: str) -> Event | None:
    if match := _ITER.match(line):
        return _progress(*match.groups())
    if match := _EVAL.match(line):
        return _eval(*match.groups())
    if line.startswith("saving checkpoint to "):
        return Checkpoint()
    if match := _OVERRIDE.match(line):
        try:
            return ConfigValue(match[1], literal(match[2]))
        except (SyntaxError, ValueError, TypeError, ArithmeticError):
            return ConfigValue(match[1], match[2].strip())
    if match := _PARAMS.match(line):
        return Parameters(float(match[1]) * 1e6)
    if match := _TOKENS.match(line):
        return TokensPerIteration(int(match[1].replace(",", "")))
    if line.startswith("Resuming training from "):
        return RunStart(resumed=True)
    if line.startswith(("Initializing a new model from scratch", "Initializing from OpenAI GPT-2 weights")):
        return RunStart(resumed=False)
    # the text of a config file echoed after "Overriding config with FILE:"
    if assignment := parse_assignment(line):
        if assignment[0] in KEYS:
            return ConfigValue(*assignment)
    return None
