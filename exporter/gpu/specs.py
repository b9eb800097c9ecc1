"""Known GPU models: dense BF16 tensor peak, board power and memory, looked up by name.

The table lives in ``exporter/data/gpus.yml`` with the source of every figure. Names are matched
as NVML reports them ("NVIDIA GeForce RTX 4070", "NVIDIA A100-SXM4-80GB") or as a person types
them ("RTX 4070", "a100 80gb"). Laptop variants are left unknown rather than matched to the
desktop card: their clocks and power differ too much.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

_GIB = 2**30
_MOBILE = re.compile(r"\b(laptop|mobile|max q)\b")


@dataclass(frozen=True)
class GpuSpec:
    name: str
    bf16_dense_flops: float
    board_watts: float
    memory_bytes: int
    mfu: str | None = None  # the default MFU range ``plan`` assumes on it, where published runs say


@cache
def _table() -> tuple[tuple[re.Pattern[str], GpuSpec], ...]:
    text = resources.files("exporter").joinpath("data/gpus.yml").read_text(encoding="utf-8")
    rows = []
    for entry in yaml.safe_load(text)["gpus"]:
        spec = GpuSpec(
            name=entry["name"],
            bf16_dense_flops=float(entry["bf16_tflops"]) * 1e12,
            board_watts=float(entry["board_watts"]),
            memory_bytes=int(entry["memory_gib"] * _GIB),
            mfu=entry.get("mfu"),
        )
        rows.append((re.compile(entry["pattern"]), spec))
    return tuple(rows)


def normalize(name: str) -> str:
    """Lower case, "-"/"_" as spaces, "rtx4070ti" spelled "rtx 4070 ti"."""
    text = re.sub(r"[-_]+", " ", name.lower())
    text = re.sub(r"\brtx(?=\d)", "rtx ", text)
    text = re.sub(r"(?<=\d)(ti|super)\b", r" \1", text)
    return " ".join(text.split())


def lookup(name: str) -> GpuSpec | None:
    """The spec of the GPU called ``name``, or None for an unknown (or laptop) model."""
    text = normalize(name)
    if not text or _MOBILE.search(text):
        return None
    for pattern, spec in _table():
        if pattern.search(text):
            return spec
    return None


def known_names() -> list[str]:
    """Every model in the table, in table order (for error messages and docs)."""
    return [spec.name for _, spec in _table()]
