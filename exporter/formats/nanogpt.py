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
from exporter.trainer_config import NANOGPT_DEFAULTS, literal, parse_assignment

NAME = "nanogpt"

_NUMBER = r"[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|nan|inf|-inf)"
_ITER = re.compile(
    rf"^iter (\d+): loss ({_NUMBER}), time ({_NUMBER})ms(?:, mfu ({_NUMBER})%)?\s*$"
)
_EVAL = re.compile(rf"^step (\d+): train loss ({_NUMBER}), val loss ({_NUMBER})\s*$")
_OVERRIDE = re.compile(r"^Overriding: (\w+) = (.*)$")
_PARAMS = re.compile(r"^number of parameters: ([\d.]+)M\s*$")
_TOKENS = re.compile(r"^tokens per iteration will be: ([\d,]+)\s*$")
_KNOWN_KEYS = frozenset(NANOGPT_DEFAULTS) | {"warmup_iters", "lr_decay_iters", "learning_rate", "min_lr"}


def parse(line: str) -> Event | None:
    if match := _ITER.match(line):
        mfu = float(match[4]) if match[4] is not None else None
        return Progress(
            iteration=int(match[1]),
            loss=float(match[2]),
            iteration_seconds=float(match[3]) / 1000.0,
            # running_mfu starts at -1 and prints -100.00% until measured
            mfu_ratio=mfu / 100.0 if mfu is not None and mfu >= 0 and math.isfinite(mfu) else None,
            includes_eval=True,
        )
    if match := _EVAL.match(line):
        return Eval({"train": float(match[2]), "val": float(match[3])}, iteration=int(match[1]))
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
        if assignment[0] in _KNOWN_KEYS:
            return ConfigValue(*assignment)
    return None
