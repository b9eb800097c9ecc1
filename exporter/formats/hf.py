"""Hugging Face ``transformers.Trainer`` console output: its tqdm bar (``37%|███▋ | 370/1000
[02:13<03:47, 2.77it/s]``) and the dicts it logs (``{'loss': 2.3456, ..., 'epoch': 0.5}``; in 5.x
every value is a quoted string such as ``'2.346'``), ending with the ``train_runtime`` dict.

The dicts carry no step: a loss dict becomes progress at the step of the bar update printed
before it on the same line (tqdm clears its bar with ``\\r`` before writing a dict); without one it
only updates the loss. Dicts are read with ``ast.literal_eval`` only; the bare ``nan`` and ``inf``
that Python prints for non-finite floats are quoted first so that they are read too.
"""

from __future__ import annotations

import ast
import re

from exporter.events import Eval, Event, Loss, Progress, RunEnd
from exporter.formats import numbers
from exporter.formats.tqdm import BAR_MARK, Bar, parse_bar
from exporter.trainer.config_file import syntax_tree

NAME = "hf"

_MAX_DICT_CHARS = 4096
_NON_FINITE = re.compile(r"(?<=: )(-?(?:nan|inf))(?=[,}])")


def _logged_dict(segment: str) -> dict[str, float | None] | None:
    text = segment.strip()
    if not (text.startswith("{") and text.endswith("}")) or len(text) > _MAX_DICT_CHARS:
        return None
    try:
        logged = ast.literal_eval(syntax_tree(_NON_FINITE.sub(r"'\1'", text), "eval"))
    except (ValueError, TypeError, MemoryError, RecursionError):
        return None
    if not isinstance(logged, dict) or not all(isinstance(key, str) for key in logged):
        return None
    return {key: numbers.value(raw) for key, raw in logged.items()}


def _eval_losses(logged: dict[str, float | None]) -> dict[str, float]:
    """``eval_loss`` -> ``val``; ``eval_<name>_loss`` (several eval sets) -> ``<name>``."""
    losses = {}
    for key, value in logged.items():
        if value is not None and key.startswith("eval_") and key.endswith("loss"):
            split = key[len("eval_"):-len("loss")].strip("_") or "val"
            losses[split] = value
    return losses


def _progress(bar: Bar, loss: float | None = None, grad_norm: float | None = None) -> Progress:
    # tqdm's rate is smoothed over recent updates and blurs an eval's cost; its elapsed time is the
    # wall clock since training started, evals included
    return Progress(
        iteration=bar.n,
        loss=loss,
        max_iterations=bar.total,
        elapsed_seconds=bar.elapsed_seconds,
        includes_eval=True,
        grad_norm=grad_norm,
    )


def _trainer_bar(segments: list[str]) -> Bar | None:
    """The last update of the Trainer's bar (it has no description; described bars are others')."""
    for segment in reversed(segments):
        if (bar := parse_bar(segment)) and not bar.desc:
            return bar
    return None


def parse(line: str) -> Event | None:
    if BAR_MARK not in line and "}" not in line:
        return None
    segments = [segment for segment in line.split("\r") if segment.strip()]
    if not segments:
        return None
    # tqdm.write() ends the line with the dict, after the bar updates drawn before it
    logged = _logged_dict(segments[-1])
    if logged is None:
        bar = _trainer_bar(segments)
        return _progress(bar) if bar else None
    bar = _trainer_bar(segments[:-1])
    if "train_runtime" in logged:
        return RunEnd(wall_seconds=numbers.nonnegative(logged["train_runtime"]))
    if losses := _eval_losses(logged):
        return Eval(losses, iteration=bar.n if bar else None)
    if logged.get("loss") is None:
        return None
    grad_norm = numbers.magnitude(logged.get("grad_norm"))
    return _progress(bar, logged["loss"], grad_norm) if bar else Loss(logged["loss"], grad_norm)
