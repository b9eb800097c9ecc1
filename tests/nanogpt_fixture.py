"""Generated nanoGPT ``train.py`` logs with a known truth (no real logs in the test suite)."""

from __future__ import annotations

import random

CONFIG_TEXT = """# scenario 2: a small GPT on one GPU
out_dir = 'out-small'
eval_interval = 500
eval_iters = 200
log_interval = 10
batch_size = 16
block_size = 512
gradient_accumulation_steps = 4
max_iters = 20000
lr_decay_iters = 20000
"""


def preamble(config_text: str = CONFIG_TEXT, tokens_per_iteration: int = 32_768) -> list[str]:
    return [
        "Overriding config with config/train_small.py:",
        *config_text.splitlines(),
        "",
        f"tokens per iteration will be: {tokens_per_iteration:,}",
        "Initializing a new model from scratch",
        "number of parameters: 40.56M",
        "num decayed parameter tensors: 26, with 40,894,464 parameters",
        "using fused AdamW: True",
        "compiling the model... (takes a ~minute)",
    ]


def progress_lines(
    first: int,
    last: int,
    *,
    log_interval: int = 10,
    eval_interval: int = 500,
    iteration_ms: float = 170.0,
    eval_extra_ms: float = 5800.0,
    warmup_ms: float = 25_000.0,
    jitter: float = 0.03,
    checkpoint: bool = True,
    seed: int = 1,
) -> list[str]:
    """``iter``/``step`` lines for iterations ``first..last`` as nanoGPT prints them."""
    rng = random.Random(seed)
    lines = []
    for iteration in range(first, last + 1):
        if iteration % eval_interval == 0:
            loss = 10.0 * (0.9995 ** iteration) + 1.5
            lines.append(f"step {iteration}: train loss {loss:.4f}, val loss {loss + 0.05:.4f}")
            if checkpoint and iteration > 0:
                lines.append("saving checkpoint to out-small")
        if iteration % log_interval:
            continue
        ms = iteration_ms * (1 + rng.uniform(-jitter, jitter))
        if iteration == first:
            ms += warmup_ms
        if iteration % eval_interval == 0:
            ms += eval_extra_ms
        local = (iteration - first) // log_interval
        mfu = -100.0 if local < 5 else 31.5 + rng.uniform(-0.5, 0.5)
        loss = 10.0 * (0.9995 ** iteration) + 1.5 + rng.uniform(-0.05, 0.05)
        lines.append(f"iter {iteration}: loss {loss:.4f}, time {ms:.2f}ms, mfu {mfu:.2f}%")
    return lines


def scenario_two() -> str:
    """1,300 of 20,000 iterations at ~170 ms, evals at 0/500/1000 adding ~5.8 s each."""
    return "\n".join(preamble() + progress_lines(0, 1300)) + "\n"
