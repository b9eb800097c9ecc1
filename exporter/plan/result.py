"""The plan's numbers, as ``plan`` works them out and :mod:`exporter.plan.render` shows them."""

from __future__ import annotations

from dataclasses import dataclass

from exporter.gpu.specs import GpuSpec
from exporter.plan import formulas


@dataclass(frozen=True)
class PlanResult:
    source: str
    defaulted_keys: list[str]
    shape: formulas.ModelShape
    batch_size: int
    grad_accum_per_rank: int
    world_size: int
    max_iters: int
    eval_interval: int
    eval_iters: int
    compiled: bool
    parameters: float
    parameters_source: str
    parameters_computed: int
    parameters_with_position_embeddings: float
    tokens_per_iteration: int
    total_tokens: int
    dataset_tokens: int | None
    dataset_source: str | None
    epochs: float | None
    flops_per_token: float
    flops_6nd: float
    flops_with_attention: float
    evals: int
    eval_flops: float
    gpu: GpuSpec | None
    watts: float | None
    watts_source: str | None
    other_watts: float
    psu_efficiency: float
    price_per_kwh: float
    currency: str
    durations: list[formulas.Duration]
    memory: formulas.MemoryEstimate
    memory_verdict: str | None
    memory_verdict_checkpointed: str | None
