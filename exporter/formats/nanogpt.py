"""karpathy/nanoGPT ``train.py`` stdout: one line in, one event (or None) out."""

from __future__ import annotations

import math
import re
from itertools import repeat
from operator import truediv

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
from exporter.formats.numbers import count, count_and_reals, counts, real, reals
from exporter.trainer.nanogpt import DEFAULTS, KEYS
from exporter.trainer.config_file import literal, parse_assignment

NAME = "nanogpt"
_INF = math.inf
__all__ = ["DEFAULTS", "NAME", "PROGRESS", "parse", "parse_other", "progress_columns", "progress_fields"]  # DEFAULTS: the trainer's own

# Numbers are matched loosely and checked by the numbers module: a cheaper pattern on the hot path.
# PROGRESS is the first pattern parse() tries; progress_fields() converts its groups.
PROGRESS = re.compile(r"iter (\d++): loss ([^,]++), time ([^m]++)ms(?:, mfu ([^%]++)%)?\s*+$")
_EVAL = re.compile(r"step (\d++): train loss ([^,]++), val loss (\S++)\s*+$")
_OVERRIDE = re.compile(r"^Overriding: (\w++) = (.*)$")
_PARAMS = re.compile(r"^number of parameters: ([\d.]++)M\s*+$")
_TOKENS = re.compile(r"^tokens per iteration will be: ([\d,]++)\s*+$")


def progress_fields(iteration: str, loss: str, milliseconds: str, mfu: str | None) -> tuple | None:
    """The groups of :data:`PROGRESS` as the fields of a :class:`Progress`, in its field order (a
    tuple costs far less than the event on a backfill's hot path), or None."""
    if (numbers := count_and_reals(iteration, loss, milliseconds, mfu)) is None:
        return None  # a number that is not one
    done, loss_value, ms, mfu_percent = numbers
    seconds, mfu_ratio = ms / 1000.0, (mfu_percent if mfu_percent is not None else -1.0) / 100.0
    # running_mfu starts at -1 and prints -100.00% until measured
    return (done, loss_value, None, seconds if 0 <= seconds < _INF else None, None, None,
            mfu_ratio if 0 <= mfu_ratio < _INF else None, True, None)


def progress_columns(groups: list[tuple]) -> tuple | None:
    """The groups of many :data:`PROGRESS` matches as columns — iterations, losses, step seconds,
    MFU ratios (None where no line prints one) — converted at once; None when a number is not one
    or the lines disagree on printing the MFU. Out-of-range values are left for the caller."""
    iterations, losses, milliseconds, percents = zip(*groups)
    if percents.count(None) not in (0, len(percents)):
        return None
    with_mfu = percents[0] is not None
    numbers = counts(iterations), reals(losses), reals(milliseconds), reals(percents) if with_mfu else ()
    if None in numbers:
        return None
    done, loss_values, ms, mfu_percents = numbers
    return (done, loss_values, list(map(truediv, ms, repeat(1000.0))),
            list(map(truediv, mfu_percents, repeat(100.0))) if with_mfu else None)


def _eval(iteration: str, train: str, val: str) -> Eval | None:
    done, train_loss, val_loss = count(iteration), real(train), real(val)
    if done is None or train_loss is None or val_loss is None:
        return None
    return Eval({"train": train_loss, "val": val_loss}, iteration=done)


def _override(line: str) -> ConfigValue | None:
    if not (match := _OVERRIDE.match(line)):
        return None
    try:
        return ConfigValue(match[1], literal(match[2]))
    except ValueError:
        return ConfigValue(match[1], match[2].strip())


def _parameters(line: str) -> Parameters | None:
    millions = real(match[1]) if (match := _PARAMS.match(line)) else None
    return Parameters(millions * 1e6) if millions is not None else None


def _tokens(line: str) -> TokensPerIteration | None:
    tokens = count(match[1]) if (match := _TOKENS.match(line)) else None
    return TokensPerIteration(tokens) if tokens is not None else None


def _step(line: str) -> Event | None:
    if match := _EVAL.match(line):
        return _eval(*match.groups())
    if line.startswith("saving checkpoint to "):
        return Checkpoint(path=line[len("saving checkpoint to "):].strip() or None)
    return None


def _run_start(line: str) -> RunStart | None:
    if line.startswith("Resuming training from "):
        return RunStart(resumed=True)
    if line.startswith(("Initializing a new model from scratch", "Initializing from OpenAI GPT-2 weights")):
        return RunStart(resumed=False)
    return None


# Every other line's reader by its first character: a noisy log's lines (warnings, progress
# bars) cost one look-up, not a try of every pattern.
_BY_FIRST = {"s": _step, "O": _override, "n": _parameters, "t": _tokens, "R": _run_start, "I": _run_start}
_KEY_FIRST = frozenset(key[0] for key in KEYS)


def parse(line: str) -> Event | None:
    if match := PROGRESS.match(line):
        fields = progress_fields(*match.groups())
        return Progress(*fields) if fields is not None else None
    return parse_other(line)


def parse_other(line: str) -> Event | None:
    """What :func:`parse` makes of a line that :data:`PROGRESS` does not match."""
    first = line[:1]
    if (read := _BY_FIRST.get(first)) and (event := read(line)):
        return event
    # the text of a config file echoed after "Overriding config with FILE:"
    if first in _KEY_FIRST and "=" in line and (assignment := parse_assignment(line)) and assignment[0] in KEYS:
        return ConfigValue(*assignment)
    return None
