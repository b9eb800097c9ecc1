"""What a nanoGPT-style run will need before it starts: pure maths on plain numbers.

Conventions (nanoGPT's own, so plan and live figures agree):

* Parameters ``N`` are counted as nanoGPT's ``get_num_params()`` prints them: without the
  position embeddings (``wpe``); the token embedding is tied to the output head and counted once.
* ``total_tokens`` is ``max_iters`` × tokens per iteration. nanoGPT's loop runs iterations
  0..max_iters, i.e. one step more than that (a difference of 1/max_iters, ignored by the plan).
* Training FLOPs are given as ``6·N·D`` and with nanoGPT's attention term
  (``6N + 12·L·H·Q·T`` per token, as its ``estimate_mfu``); time at a model-FLOPs utilisation uses
  the latter, since that is how nanoGPT's MFU is defined.
* An eval runs ``eval_iters`` forward passes of one micro-batch for each of the train and val
  splits, a forward pass costing about a third of a training micro-step. nanoGPT evaluates at every
  multiple of ``eval_interval`` from iteration 0 up to ``max_iters``, on the master process only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from exporter import units
from exporter.errors import UsageError

BYTES_PER_DATASET_TOKEN = 2  # nanoGPT's train.bin holds uint16 token ids

# Memory model (an estimate): mixed-precision training with fp32 master weights.
WEIGHT_BYTES = 4  # fp32 parameters
GRADIENT_BYTES = 4  # fp32 gradients
ADAMW_BYTES = 8  # fp32 exp_avg and exp_avg_sq
# Activations kept per layer per token, bf16, in units of n_embd (Korthikanti et al. 2022, 34·s·b·h
# without the attention-score term, which flash attention does not store).
ACTIVATION_BYTES_PER_EMBD = 34
CHECKPOINT_BYTES_PER_EMBD = 2  # with activation checkpointing only each layer's bf16 input is kept
# Per logit: bf16 logits + fp32 log-probabilities + their gradients during backward (eager), or
# bf16 logits + bf16 gradient when torch.compile fuses the loss.
LOGIT_BYTES_EAGER = 12
LOGIT_BYTES_COMPILED = 4
RUNTIME_OVERHEAD_BYTES = 768 * 2**20  # CUDA context, cuBLAS workspace, allocator slack
TIGHT_FRACTION = 0.85  # above this share of the GPU's memory a run is "tight"

FITS, TIGHT, WILL_NOT_FIT = "fits", "tight", "will not fit"


@dataclass(frozen=True)
class ModelShape:
    n_layer: int
    n_head: int
    n_embd: int
    block_size: int
    vocab_size: int
    bias: bool = False


def parameter_count(shape: ModelShape, *, position_embeddings: bool = False) -> int:
    """nanoGPT's GPT parameter count; ``position_embeddings=False`` is what the trainer prints."""
    c = shape.n_embd
    bias = 1 if shape.bias else 0
    layer_norm = c + bias * c
    attention = c * 3 * c + bias * 3 * c + c * c + bias * c
    mlp = c * 4 * c + bias * 4 * c + 4 * c * c + bias * c
    block = 2 * layer_norm + attention + mlp
    total = shape.vocab_size * c + shape.n_layer * block + layer_norm
    if position_embeddings:
        total += shape.block_size * c
    return total


def tokens_per_iteration(batch_size: int, block_size: int, grad_accum: int, world_size: int = 1) -> int:
    """Tokens in one optimizer step: micro-batch × block × accumulation steps per rank × ranks."""
    return batch_size * block_size * grad_accum * world_size


def per_rank_grad_accum(config_grad_accum: int, world_size: int) -> int:
    """nanoGPT divides the configured ``gradient_accumulation_steps`` among the DDP ranks."""
    if world_size < 1 or config_grad_accum % world_size:
        raise UsageError(
            f"gradient_accumulation_steps={config_grad_accum} is not divisible by world size "
            f"{world_size} (nanoGPT requires it)"
        )
    return config_grad_accum // world_size


def total_tokens(max_iters: int, tokens_per_iter: int) -> int:
    return max_iters * tokens_per_iter


def dataset_tokens(size_bytes: int) -> int:
    """Tokens in a nanoGPT ``.bin`` file of uint16 ids."""
    return size_bytes // BYTES_PER_DATASET_TOKEN


def epochs(tokens: float, tokens_in_dataset: float) -> float:
    return tokens / tokens_in_dataset


def flops_6nd(parameters: float, tokens: float) -> float:
    return 6 * parameters * tokens


def flops_per_token(parameters: float, n_layer: int, n_head: int, n_embd: int, block_size: int) -> float:
    """nanoGPT's ``estimate_mfu``: ``6N + 12·L·H·Q·T`` with ``Q = n_embd / n_head``."""
    return 6 * parameters + 12 * n_layer * n_head * (n_embd / n_head) * block_size


def eval_count(max_iters: int, eval_interval: int) -> int:
    """Evals in a whole run: iterations 0, eval_interval, … up to max_iters."""
    if eval_interval <= 0:
        return 0
    return max_iters // eval_interval + 1


def eval_flops(eval_iters: int, batch_size: int, block_size: int, per_token: float) -> float:
    """One eval: 2 splits × eval_iters forward passes of a micro-batch, each ⅓ of a training pass."""
    return 2 * eval_iters * batch_size * block_size * per_token / 3


def seconds_at_mfu(flops: float, peak_flops: float, mfu: float, gpus: int = 1) -> float:
    return flops / (peak_flops * mfu * gpus)


def eval_seconds_from_throughput(
    eval_iters: int, batch_size: int, block_size: int, world_size: int, tokens_per_second: float
) -> float:
    """One eval's time from a measured whole-run throughput: a micro-step takes
    ``batch × block × world_size / tokens_per_second``; an eval is 2 × eval_iters thirds of that."""
    micro_step = batch_size * block_size * world_size / tokens_per_second
    return 2 * eval_iters * micro_step / 3


def planned_seconds(
    max_iters: int, iteration_seconds: float, eval_interval: int | None, eval_seconds: float | None
) -> float:
    """Wall time of a whole run at a given pace: every iteration plus every eval's overhead."""
    evals = eval_count(max_iters, eval_interval) if eval_interval and eval_seconds else 0
    return max_iters * iteration_seconds + evals * (eval_seconds or 0.0)


def energy_joules(watts: float, seconds: float, other_watts: float = 0.0, psu_efficiency: float = 1.0) -> float:
    """Energy at the wall: (GPU power + rest of the machine) × time / PSU efficiency."""
    return (watts + other_watts) * seconds / psu_efficiency


@dataclass(frozen=True)
class MemoryEstimate:
    weights: float
    gradients: float
    optimizer: float
    activations: float
    activations_checkpointed: float
    logits: float
    overhead: float

    @property
    def total(self) -> float:
        return self.weights + self.gradients + self.optimizer + self.activations + self.logits + self.overhead

    @property
    def total_checkpointed(self) -> float:
        return (
            self.weights + self.gradients + self.optimizer + self.activations_checkpointed
            + self.logits + self.overhead
        )


def memory_estimate(
    parameters_total: float, shape: ModelShape, batch_size: int, *, compiled: bool = True
) -> MemoryEstimate:
    """Peak GPU memory of one rank (DDP keeps a full copy per GPU); an estimate, not a measurement.

    ``parameters_total`` includes the position embeddings (they take memory like any weight).
    """
    tokens = batch_size * shape.block_size
    per_layer = ACTIVATION_BYTES_PER_EMBD * tokens * shape.n_embd
    return MemoryEstimate(
        weights=WEIGHT_BYTES * parameters_total,
        gradients=GRADIENT_BYTES * parameters_total,
        optimizer=ADAMW_BYTES * parameters_total,
        activations=shape.n_layer * per_layer,
        # layer inputs kept, plus one layer's activations while it is recomputed in backward
        activations_checkpointed=shape.n_layer * CHECKPOINT_BYTES_PER_EMBD * tokens * shape.n_embd + per_layer,
        logits=(LOGIT_BYTES_COMPILED if compiled else LOGIT_BYTES_EAGER) * tokens * shape.vocab_size,
        overhead=RUNTIME_OVERHEAD_BYTES,
    )


def memory_verdict(needed_bytes: float, gpu_bytes: float) -> str:
    if needed_bytes <= TIGHT_FRACTION * gpu_bytes:
        return FITS
    if needed_bytes <= gpu_bytes:
        return TIGHT
    return WILL_NOT_FIT


_NUMBER = re.compile(r"\d+(?:\.\d*)?(?:[eE][-+]?\d+)?")


def _hundredth(match: re.Match[str]) -> str:
    return f"{float(match[0]) / 100:g}"


def mfu_values(text: str) -> list[float]:
    """``"0.3"`` -> [0.3]; ``"0.2-0.4"`` -> [0.2, 0.3, 0.4]; ``"0.2,0.35"`` -> [0.2, 0.35]; the same
    as percentages with their sign (``"30%"``, ``"20-40%"``). A bare number above 1 is neither a
    fraction nor a percentage (is ``1.5`` 1.5 % or 150 %?) and is refused with both spellings."""
    raw = text.strip()
    percent = "%" in raw
    raw = raw.replace("%", "")
    try:
        if "-" in raw.lstrip("-"):
            low_text, high_text = raw.split("-", 1)
            low, high = float(low_text), float(high_text)
            values = [low, (low + high) / 2, high] if high != low else [low]
        else:
            values = [float(part) for part in raw.split(",") if part.strip()]
    except ValueError:
        raise UsageError(f"MFU {text!r} is not a number, a range like 0.2-0.4, or a list like 0.2,0.3") from None
    if percent:
        values = [v / 100 for v in values]
    elif any(v > 1 for v in values):
        spelled = f"the fraction {_NUMBER.sub(_hundredth, raw)} or the percentage {raw}%" \
            if all(v > 1 for v in values) else "fractions or percentages, not both"
        raise UsageError(f"MFU {text!r} is above 1: write {spelled} (an MFU is a fraction such as 0.4, or a "
                         "percentage with its sign such as 40%)")
    if not values or any(not 0 < v <= 1 for v in values):
        raise UsageError(f"MFU {text!r} must lie between 0 and 1 (or 0% and 100%)")
    if len(values) == 3 and values[0] > values[2]:
        raise UsageError(f"MFU range {text!r} goes from high to low")
    return sorted(values)


@dataclass(frozen=True)
class Duration:
    """One way the run could go: its wall time, energy and cost."""

    basis: str  # "mfu" or "measured"
    mfu: float | None
    train_seconds: float
    eval_seconds: float
    energy_joules: float | None
    cost: float | None

    @property
    def seconds(self) -> float:
        return self.train_seconds + self.eval_seconds


def durations(
    *,
    tokens: float,
    per_token_flops: float,
    evals: int,
    one_eval_flops: float,
    world_size: int,
    peak_flops: float | None,
    mfus: Sequence[float],
    tokens_per_second: float | None,
    one_eval_seconds_measured: float | None,
    watts: float | None,
    other_watts: float,
    psu_efficiency: float,
    price_per_kwh: float,
) -> list[Duration]:
    """Wall time (training + evals), energy and cost for each MFU, or for a measured throughput."""
    cases: list[tuple[str, float | None, float, float]] = []
    if tokens_per_second:
        cases.append(("measured", None, tokens / tokens_per_second, evals * (one_eval_seconds_measured or 0.0)))
    elif peak_flops:
        for mfu in mfus:
            train = seconds_at_mfu(tokens * per_token_flops, peak_flops, mfu, world_size)
            cases.append(("mfu", mfu, train, evals * seconds_at_mfu(one_eval_flops, peak_flops, mfu)))
    result = []
    for basis, mfu, train, evaluating in cases:
        energy = None
        if watts is not None:
            energy = energy_joules(watts, train + evaluating, other_watts, psu_efficiency)
        result.append(
            Duration(
                basis=basis,
                mfu=mfu,
                train_seconds=train,
                eval_seconds=evaluating,
                energy_joules=energy,
                cost=None if energy is None else units.cost(energy, price_per_kwh),
            )
        )
    return result


def scientific(value: float, digits: int = 3) -> str:
    """``2.5518e18`` -> ``"2.55×10^18"`` (three significant digits by default)."""
    mantissa, exponent = f"{value:.{digits - 1}e}".split("e")
    return f"{mantissa}×10^{int(exponent)}"
