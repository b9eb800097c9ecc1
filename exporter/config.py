"""The exporter's configuration: one frozen dataclass, loaded from YAML and validated as a whole."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """Every problem found in a configuration, reported together."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid configuration in {source}:\n{lines}")


@dataclass(frozen=True)
class Config:
    # what to follow
    log: str | None = None
    run: str | None = None
    format: str = "auto"
    custom_format_file: str | None = None
    jsonl_fields: dict[str, str] = field(default_factory=dict)
    trainer_config: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    max_iters: int | None = None
    # serving
    listen_address: str = "127.0.0.1"
    port: int = 9842
    poll_interval_seconds: float = 0.5
    # stall detection
    min_progress_timeout_seconds: float = 120.0
    startup_timeout_seconds: float = 900.0
    # GPUs
    gpus: list[str] | None = None
    trainer_pid: int | None = None
    trainer_cmdline_match: str = "train"
    gpu_sample_interval_seconds: float = 1.0
    # energy and money
    other_watts: float = 0.0
    psu_efficiency: float = 1.0
    price_per_kwh: float = 0.15
    currency: str = "USD"
    carbon_g_per_kwh: float | None = None
    state_file: str | None = None

    def replace(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)


# Allowed values of the numeric keys, inclusive.
RANGES: dict[str, tuple[float, float]] = {
    "port": (1, 65535),
    "poll_interval_seconds": (0.01, 60),
    "min_progress_timeout_seconds": (1, 7 * 86400),
    "startup_timeout_seconds": (1, 7 * 86400),
    "gpu_sample_interval_seconds": (0.05, 60),
    "other_watts": (0, 100_000),
    "psu_efficiency": (0.05, 1.0),
    "price_per_kwh": (0, 1_000),
    "carbon_g_per_kwh": (0, 10_000),
    "max_iters": (1, 10**12),
    "trainer_pid": (1, 2**31),
}

_FORMATS = ("auto", "nanogpt", "llmc", "modded", "nanochat", "hf", "lightning", "jsonl", "custom")

_FIELDS = {f.name: f for f in dataclasses.fields(Config)}


def _type_problem(name: str, value: Any) -> str | None:
    annotation = str(_FIELDS[name].type)
    if value is None:
        return None if "None" in annotation else f"{name}: must be set (got null)"
    if annotation.startswith("int") and (isinstance(value, bool) or not isinstance(value, int)):
        return f"{name}: expected an integer, got {value!r}"
    if annotation.startswith("float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return f"{name}: expected a number, got {value!r}"
    if annotation.startswith("str") and not isinstance(value, str):
        return f"{name}: expected a string, got {value!r}"
    if annotation.startswith("dict") and not isinstance(value, dict):
        return f"{name}: expected a mapping, got {value!r}"
    if annotation.startswith("list") and not (
        isinstance(value, list) and all(isinstance(v, (str, int)) for v in value)
    ):
        return f"{name}: expected a list of GPU indices or UUIDs, got {value!r}"
    return None


def validate(values: dict[str, Any], source: str) -> Config:
    """Build a :class:`Config` from ``values`` or raise :class:`ConfigError` listing every problem."""
    problems = [
        f"{key}: unknown key (known keys: {', '.join(sorted(_FIELDS))})"
        for key in values
        if key not in _FIELDS
    ]
    known = {k: v for k, v in values.items() if k in _FIELDS}
    for name, value in known.items():
        problem = _type_problem(name, value)
        if problem:
            problems.append(problem)
            continue
        low_high = RANGES.get(name)
        if low_high and value is not None and not low_high[0] <= value <= low_high[1]:
            problems.append(f"{name}: {value!r} is outside {low_high[0]}..{low_high[1]}")
    if known.get("format", "auto") not in _FORMATS:
        problems.append(f"format: {known['format']!r} is not one of {', '.join(_FORMATS)}")
    if known.get("format") == "custom" and not known.get("custom_format_file"):
        problems.append("custom_format_file: required when format is 'custom'")
    if isinstance(known.get("currency"), str) and not known["currency"].strip():
        problems.append("currency: must not be empty")
    if problems:
        raise ConfigError(source, problems)
    if known.get("gpus") is not None:
        known["gpus"] = [str(g) for g in known["gpus"]]
    if isinstance(known.get("max_iters"), float):
        known["max_iters"] = int(known["max_iters"])
    return Config(**known)


def read_yaml(path: str) -> Any:
    """The YAML document at ``path``; an unreadable or malformed file is a ValueError saying which."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read the file: {exc.strerror or exc}") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"not valid YAML: {exc}") from exc


def load(path: str | None, overrides: dict[str, Any] | None = None) -> Config:
    """Read the YAML file at ``path`` (if any), apply command-line ``overrides`` (keys given on the
    command line; ``None`` values are not given), validate all."""
    values: dict[str, Any] = {}
    source = "command line"
    if path:
        source = path
        try:
            loaded = read_yaml(path)
        except ValueError as exc:
            raise ConfigError(path, [str(exc)]) from exc
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(path, ["the top level must be a mapping of key: value"])
        values.update(loaded)
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        if key == "overrides" and isinstance(values.get(key), dict):
            value = {**values[key], **value}  # trainer overrides from flags add to the file's
        values[key] = value
    return validate(values, source)
