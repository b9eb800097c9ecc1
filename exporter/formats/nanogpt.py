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
from exporter.formats.numbers import count, real
from exporter.nanogpt import DEFAULTS, KEYS
from exporter.trainer_config import literal, parse_assignment

NAME = "nanogpt"
__all__ = ["DEFAULTS", "NAME", "parse"]  # DEFAULTS: the trainer's own, for settings its log leaves out

# Numbers are matched loosely and checked by the numbers module: a cheaper pattern on the hot path.
_ITER = re.compile(r"iter (\d++): loss ([^,]++), time ([^m]++)ms(?:, mfu ([^%]++)%)?\s*+$")
_EVAL = re.compile(r"step (\d++): train loss ([^,]++), val loss (\S++)\s*+$")
_OVERRIDE = re.compile(r"^Overriding: (\w++) = (.*)$")
_PARAMS = re.compile(r"^number of parameters: ([\d.]++)M\s*+$")
_TOKENS = re.compile(r"^tokens per iteration will be: ([\d,]++)\s*+$")


def _progress(iteration: str, loss: str, milliseconds: str, mfu: str | None) -> Progress | None:
    done, loss_value, ms = count(iteration), real(loss), real(milliseconds)
    mfu_percent = real(mfu) if mfu is not None else -1.0
    if done is None or loss_value is None or ms is None or mfu_percent is None:
        return None  # a number that is not one
    seconds, mfu_ratio = ms / 1000.0, mfu_percent / 100.0
    # running_mfu starts at -1 and prints -100.00% until measured. Positional arguments (in
    # Progress's field order) halve the cost of building the event on a backfill's hot path.
    return Progress(done, loss_value, None, seconds if 0 <= seconds < math.inf else None, None, None,
                    mfu_ratio if 0 <= mfu_ratio < math.inf else None, True)


def _eval(iteration: str, train: str, val: str) -> Eval | None:
    done, train_loss, val_loss = count(iteration), real(train), real(val)
    if done is None or train_loss is None or val_loss is None:
        return None
    return Eval({"train": train_loss, "val": val_loss}, iteration=done)


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
        except ValueError:
            return ConfigValue(match[1], match[2].strip())
    if match := _PARAMS.match(line):
        millions = real(match[1])
        return Parameters(millions * 1e6) if millions is not None else None
    if match := _TOKENS.match(line):
        tokens = count(match[1])
        return TokensPerIteration(tokens) if tokens is not None else None
    if line.startswith("Resuming training from "):
        return RunStart(resumed=True)
    if line.startswith(("Initializing a new model from scratch", "Initializing from OpenAI GPT-2 weights")):
        return RunStart(resumed=False)
    # the text of a config file echoed after "Overriding config with FILE:"
    if assignment := parse_assignment(line):
        if assignment[0] in KEYS:
            return ConfigValue(*assignment)
    return None
