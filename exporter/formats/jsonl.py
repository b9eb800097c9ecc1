"""JSON lines written by a trainer the user controls: one object per line, field names configurable
(``jsonl_fields`` in the configuration maps each event field below to the key the trainer writes;
a dotted key such as ``metrics.loss`` reaches into nested objects).

A line with a validation loss is an evaluation (with the training loss beside it, if present);
any other line with an iteration is progress. Times are in seconds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from exporter.errors import UsageError
from exporter.events import Eval, Event, Progress
from exporter.formats import numbers

NAME = "jsonl"

DEFAULT_FIELDS: dict[str, str] = {
    "iteration": "step",
    "max_iterations": "max_steps",
    "loss": "loss",
    "val_loss": "val_loss",
    "iteration_seconds": "dt",
    "elapsed_seconds": "elapsed",
    "tokens_per_second": "tokens_per_second",
    "mfu_ratio": "mfu",
    "grad_norm": "grad_norm",
}
_MAX_LINE_CHARS = 65536


class FieldsError(UsageError):
    """``jsonl_fields`` names an event field that does not exist."""


def _lookup(record: Mapping[str, Any], key: str) -> Any:
    if key in record:
        return record[key]
    value: Any = record
    for part in key.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def parser(fields: Mapping[str, str] | None = None):
    """A line parser for JSON lines whose keys are ``fields`` (event field -> JSON key) over the
    defaults; raises :class:`FieldsError` naming every unknown event field."""
    unknown = sorted(set(fields or {}) - set(DEFAULT_FIELDS))
    if unknown:
        raise FieldsError(
            f"jsonl_fields: unknown field(s) {', '.join(unknown)}; known: {', '.join(DEFAULT_FIELDS)}"
        )
    keys = {**DEFAULT_FIELDS, **(fields or {})}

    def parse(line: str) -> Event | None:
        text = line.strip()
        if not text.startswith("{") or len(text) > _MAX_LINE_CHARS:
            return None
        try:
            record = json.loads(text)
        except (ValueError, RecursionError):
            return None
        if not isinstance(record, dict):
            return None
        values = {name: _lookup(record, key) for name, key in keys.items()}
        iteration = numbers.whole(values["iteration"])
        loss, val_loss = numbers.value(values["loss"]), numbers.value(values["val_loss"])
        if val_loss is not None:
            losses = {"val": val_loss} | ({"train": loss} if loss is not None else {})
            return Eval(losses, iteration=iteration)
        if iteration is None:
            return None
        return Progress(
            iteration=iteration,
            loss=loss,
            max_iterations=numbers.whole(values["max_iterations"]),
            iteration_seconds=numbers.value(values["iteration_seconds"]),
            elapsed_seconds=numbers.value(values["elapsed_seconds"]),
            tokens_per_second=numbers.value(values["tokens_per_second"]),
            mfu_ratio=numbers.value(values["mfu_ratio"]),
            grad_norm=numbers.magnitude(numbers.value(values["grad_norm"])),
        )

    return parse


parse = parser()
