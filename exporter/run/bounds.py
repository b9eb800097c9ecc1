"""Sane bounds for what a log says: a value outside them is a line the run model ignores (and
counts), never an exception that stops the exporter or a figure that breaks the maths."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from exporter.events import Eval, Parameters, Progress, RunEnd, TokensPerIteration

MAX_ITERATIONS = 10**12
MAX_SECONDS = 10**7  # one iteration or one clock reading: about 4 months
MAX_THROUGHPUT = 1e15  # tokens per second
# An MFU above 1000 % is a misprint (a trainer's peak that is far off still gives a few times 100 %):
# the line's other figures are kept, its MFU left out.
MAX_MFU_RATIO = 10.0
MAX_SPLITS = 16  # evaluation splits a run may report; more is a log that names one per line
MAX_SPLIT_NAME = 64

# Trainer settings that must be whole counts, with their largest sane value.
COUNT_SETTINGS: dict[str, int] = {
    "max_iters": MAX_ITERATIONS,
    "eval_interval": MAX_ITERATIONS,
    "eval_iters": 10**9,
    "log_interval": MAX_ITERATIONS,
    "batch_size": 10**9,
    "block_size": 10**9,
    "gradient_accumulation_steps": 10**9,
    "n_layer": 10**6,
    "n_head": 10**6,
    "n_embd": 10**9,
    "vocab_size": 10**9,
}
MAX_TEXT_SETTING = 4096  # characters of a text setting (out_dir, dataset, ...)


class Ignored(ValueError):
    """A line whose values are outside sane bounds; the message says which."""


def _seconds(value: float | None) -> bool:
    return value is None or 0 <= value < MAX_SECONDS


def check_progress(p: Progress) -> Progress:
    """``p`` with the figures no run can have left out (an MFU of :data:`MAX_MFU_RATIO` or more, a step
    time of 0: an unmeasured step, never a free one), or :class:`Ignored` for a line outside bounds."""
    if not 0 <= p.iteration <= MAX_ITERATIONS:
        raise Ignored(f"iteration {p.iteration} is outside 0..{MAX_ITERATIONS}")
    if p.max_iterations is not None and not 1 <= p.max_iterations <= MAX_ITERATIONS:
        raise Ignored(f"max iterations {p.max_iterations} is outside 1..{MAX_ITERATIONS}")
    if not (_seconds(p.iteration_seconds) and _seconds(p.elapsed_seconds)):
        raise Ignored("an iteration time or training clock outside 0..10^7 s")
    for value in (p.tokens_per_second, p.mfu_ratio):
        if value is not None and not (0 <= value < MAX_THROUGHPUT):
            raise Ignored(f"a throughput figure {value} outside 0..10^15")
    misprinted_mfu = p.mfu_ratio is not None and p.mfu_ratio >= MAX_MFU_RATIO
    if misprinted_mfu or p.iteration_seconds == 0:
        return replace(p, mfu_ratio=None if misprinted_mfu else p.mfu_ratio,
                       iteration_seconds=p.iteration_seconds or None)
    return p


def check_setting(key: str, value: Any) -> None:
    """A numeric setting the exporter uses must be a whole count within its bounds; a text value
    must be short."""
    if isinstance(value, str):
        if len(value) > MAX_TEXT_SETTING:
            raise Ignored(f"{key}: a text value of {len(value):,} characters")
        if key in COUNT_SETTINGS:
            raise Ignored(f"{key} = {value[:40]!r} is not a number")
        return
    highest = COUNT_SETTINGS.get(key)
    if highest is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not 0 <= value <= highest or value != int(value):
        raise Ignored(f"{key} = {str(value)[:40]} is not a whole number in 0..{highest}")


def check_count(event: Parameters | TokensPerIteration) -> None:
    value = event.count if isinstance(event, Parameters) else event.tokens
    if not 1 <= value < 1e15:
        raise Ignored(f"{type(event).__name__} {value} is outside 1..10^15")


def check_eval(e: Eval, known_splits: set[str]) -> None:
    if e.iteration is not None and not 0 <= e.iteration <= MAX_ITERATIONS:
        raise Ignored(f"eval at iteration {e.iteration} is outside 0..{MAX_ITERATIONS}")
    new = [split for split in e.losses if split not in known_splits]
    if any(len(split) > MAX_SPLIT_NAME for split in new) or len(known_splits) + len(new) > MAX_SPLITS:
        raise Ignored(f"more than {MAX_SPLITS} evaluation splits, or a split name over {MAX_SPLIT_NAME} characters")


def check_run_end(r: RunEnd) -> None:
    if not _seconds(r.wall_seconds):
        raise Ignored(f"a run's wall time of {r.wall_seconds} s is outside 0..10^7 s")
