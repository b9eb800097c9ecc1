"""A trainer's settings in layers, each answer with where it came from.

From lowest to highest: the trainer's own defaults (supplied by its log format), the trainer config
file (``--trainer-config``), what the log prints, and the user's flags (``--override``, and
``--max-iters`` above all)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT, TRAINER_CONFIG, LOG, FLAG, OBSERVED = "default", "trainer_config", "log", "flag", "observed"


@dataclass(frozen=True, slots=True)
class Setting:
    value: int
    source: str  # one of DEFAULT, TRAINER_CONFIG, LOG, FLAG, OBSERVED


def _count(value: Any) -> int | None:
    """A whole positive count from a setting's value, or None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 1 <= value < 2**63:
        return None
    return int(value)


class TrainerSettings:
    def __init__(self, file_values: Mapping[str, Any] | None = None,
                 flag_values: Mapping[str, Any] | None = None, max_iters_flag: int | None = None) -> None:
        self._defaults: Mapping[str, Any] = {}
        self._file = dict(file_values or {})
        self._log: dict[str, Any] = {}
        self._flags = dict(flag_values or {})
        self._max_iters_flag = max_iters_flag

    def use_defaults(self, defaults: Mapping[str, Any]) -> None:
        """The trainer is known (its log format was detected): its defaults fill the gaps."""
        self._defaults = defaults

    def from_log(self, key: str, value: Any) -> None:
        self._log[key] = value

    def merged(self) -> dict[str, Any]:
        return {**self._defaults, **self._file, **self._log, **self._flags}

    def _layers(self) -> tuple[tuple[str, Mapping[str, Any]], ...]:
        return (FLAG, self._flags), (LOG, self._log), (TRAINER_CONFIG, self._file), (DEFAULT, self._defaults)

    def count(self, key: str, *, defaults: bool = True) -> Setting | None:
        """The highest layer's value of ``key`` that is a positive count."""
        for source, layer in self._layers():
            if source == DEFAULT and not defaults:
                break
            if key in layer:
                value = _count(layer[key])
                return None if value is None else Setting(value, source)
        return None

    def max_iterations(self, from_progress: int | None) -> Setting | None:
        """``--max-iters``, else an override, else what a progress line shows (``1300/20000``),
        else the trainer's setting."""
        if self._max_iters_flag is not None:
            return Setting(self._max_iters_flag, FLAG)
        flagged = _count(self._flags.get("max_iters"))
        if flagged is not None:
            return Setting(flagged, FLAG)
        if from_progress is not None:
            return Setting(from_progress, LOG)
        return self.count("max_iters")

    def eval_interval(self, observed: int | None) -> Setting | None:
        """A setting the user or the log gave, else what the evals seen so far show, else the
        trainer's default."""
        given = self.count("eval_interval", defaults=False)
        if given is not None:
            return given
        if observed is not None:
            return Setting(observed, OBSERVED)
        return self.count("eval_interval")

    def tokens_per_iteration(self, logged: int | None) -> Setting | None:
        """What the trainer printed, else batch size × block size × gradient accumulation steps."""
        if logged is not None:
            return Setting(logged, LOG)
        parts = [self.count(key) for key in ("batch_size", "block_size", "gradient_accumulation_steps")]
        if any(part is None for part in parts):
            return None
        source = max((part.source for part in parts), key=[DEFAULT, TRAINER_CONFIG, LOG, FLAG].index)
        return Setting(parts[0].value * parts[1].value * parts[2].value, source)
