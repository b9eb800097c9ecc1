"""User-defined formats: a YAML file of named regular expressions whose named groups fill the
fields of the exporter's events. Checked when loaded; every problem is reported at once.

    progress: '^it (?P<iteration>\\d+)/(?P<max_iterations>\\d+) loss=(?P<loss>\\S+) (?P<iteration_ms>[\\d.]+)ms'
    eval: '^eval (?P<iteration>\\d+): (?P<val_loss>\\S+)'
    checkpoint: '^saved checkpoint'
    crash: '^FATAL'

Each name takes one pattern or a list; the first pattern (in the order above) that matches a line
wins. ``re.search`` is used, so anchor with ``^`` where the line must start with the text. Lines
over 4,096 characters are not matched (a pattern that backtracks badly stays cheap).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from exporter.errors import UsageError
from exporter.events import Checkpoint, Eval, Event, Progress, RunEnd, TrainerError
from exporter.formats import numbers
from exporter.yaml_file import read_yaml

NAME = "custom"

# pattern name -> the named groups it may use (and must use)
_GROUPS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "progress": (
        frozenset({"iteration", "max_iterations", "loss", "iteration_ms", "iteration_seconds",
                   "elapsed_seconds", "elapsed_ms", "tokens_per_second", "mfu_percent", "grad_norm"}),
        frozenset({"iteration"}),
    ),
    "eval": (frozenset({"iteration", "val_loss", "train_loss"}), frozenset()),
    "checkpoint": (frozenset({"iteration"}), frozenset()),
    "end": (frozenset({"wall_seconds"}), frozenset()),
    "oom": (frozenset(), frozenset()),
    "crash": (frozenset(), frozenset()),
}
_NUMBER = re.compile(r"[-+]?(?:\d[\d,]*+(?:\.\d*+)?(?:[eE][-+]?\d++)?|\.\d++|nan|inf)", re.IGNORECASE)
# a user's pattern may backtrack badly; it only ever sees lines up to this long
MAX_LINE_CHARS = 4096


class CustomFormatError(UsageError):
    """A custom format file that cannot be used; lists every problem found."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"invalid custom format file {source}:\n{lines}")


def _number(text: str | None) -> float | None:
    if text is None or not _NUMBER.fullmatch(text := text.strip()):
        return None
    return numbers.real(text.replace(",", ""))


def _integer(text: str | None) -> int | None:
    return numbers.whole(_number(text))


def _scaled(groups: dict[str, str | None], seconds: str, milliseconds: str) -> float | None:
    if (value := _number(groups.get(seconds))) is not None:
        return value
    value = _number(groups.get(milliseconds))
    return value / 1000.0 if value is not None else None


def _progress(groups: dict[str, str | None]) -> Event | None:
    iteration = _integer(groups["iteration"])
    if iteration is None:
        return None
    mfu = _number(groups.get("mfu_percent"))
    return Progress(
        iteration=iteration,
        loss=_number(groups.get("loss")),
        max_iterations=_integer(groups.get("max_iterations")),
        iteration_seconds=_scaled(groups, "iteration_seconds", "iteration_ms"),
        elapsed_seconds=_scaled(groups, "elapsed_seconds", "elapsed_ms"),
        tokens_per_second=_number(groups.get("tokens_per_second")),
        mfu_ratio=mfu / 100.0 if mfu is not None else None,
        grad_norm=numbers.magnitude(_number(groups.get("grad_norm"))),
    )


def _eval(groups: dict[str, str | None]) -> Event | None:
    losses = {split: value for split in ("val", "train")
              if (value := _number(groups.get(f"{split}_loss"))) is not None}
    return Eval(losses, iteration=_integer(groups.get("iteration"))) if losses else None


_BUILDERS: dict[str, Callable[[dict[str, str | None]], Event | None]] = {
    "progress": _progress,
    "eval": _eval,
    "checkpoint": lambda groups: Checkpoint(iteration=_integer(groups.get("iteration"))),
    "end": lambda groups: RunEnd(wall_seconds=numbers.nonnegative(_number(groups.get("wall_seconds")))),
    "oom": lambda groups: TrainerError("oom"),
    "crash": lambda groups: TrainerError("traceback"),
}


def _compile(name: str, value: Any, problems: list[str]) -> list[re.Pattern[str]]:
    allowed, required = _GROUPS[name]
    texts = value if isinstance(value, list) else [value]
    patterns = []
    for index, text in enumerate(texts):
        label = name if len(texts) == 1 else f"{name}[{index}]"
        if not isinstance(text, str) or not text:
            problems.append(f"{label}: expected a regular expression, got {text!r}")
            continue
        try:
            pattern = re.compile(text)
        except re.error as exc:
            problems.append(f"{label}: not a valid regular expression ({exc}): {text}")
            continue
        groups = set(pattern.groupindex)
        if unknown := sorted(groups - allowed):
            known = ", ".join(sorted(allowed)) or "none"
            problems.append(f"{label}: unknown group(s) {', '.join(unknown)} (allowed: {known})")
        if missing := sorted(required - groups):
            problems.append(f"{label}: needs the named group(s) {', '.join(missing)}")
        if name == "eval" and not groups & {"val_loss", "train_loss"}:
            problems.append(f"{label}: needs a val_loss or train_loss group")
        patterns.append(pattern)
    return patterns


def compile_format(spec: Any, source: str) -> Callable[[str], Event | None]:
    """A line parser from the mapping ``spec`` (the YAML document), or :class:`CustomFormatError`."""
    if not isinstance(spec, dict) or not spec:
        raise CustomFormatError(source, [f"the top level must map pattern names ({', '.join(_GROUPS)}) to regular expressions"])
    problems = [f"{name}: unknown pattern name (known: {', '.join(_GROUPS)})"
                for name in spec if name not in _GROUPS]
    rules = [(name, pattern) for name in _GROUPS if name in spec
             for pattern in _compile(name, spec[name], problems)]
    if "progress" not in spec:
        problems.append("progress: required (a pattern with at least an iteration group)")
    if problems:
        raise CustomFormatError(source, problems)

    def parse(line: str) -> Event | None:
        if len(line) > MAX_LINE_CHARS:
            return None
        for name, pattern in rules:
            if match := pattern.search(line):
                if event := _BUILDERS[name](match.groupdict()):
                    return event
        return None

    return parse


def load(path: str) -> Callable[[str], Event | None]:
    """Read and check the custom format file at ``path``."""
    try:
        spec = read_yaml(path)
    except ValueError as exc:
        raise CustomFormatError(path, [str(exc)]) from exc
    return compile_format(spec, path)
