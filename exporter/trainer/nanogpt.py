"""What the exporter knows of karpathy/nanoGPT's ``train.py``: its settings, their defaults, and
its FLOPs per token (the log format itself is read by ``exporter.formats.nanogpt``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exporter.plan import formulas

# train.py's defaults for the keys the exporter and the planner use.
DEFAULTS: dict[str, Any] = {
    "max_iters": 600000,
    "eval_interval": 2000,
    "eval_iters": 200,
    "log_interval": 1,
    "batch_size": 12,
    "block_size": 1024,
    "gradient_accumulation_steps": 5 * 8,
    "n_layer": 12,
    "n_head": 12,
    "n_embd": 768,
    "vocab_size": 50304,
    "bias": False,
    "dropout": 0.0,
    "always_save_checkpoint": True,
    "eval_only": False,
    "init_from": "scratch",
    "dataset": "openwebtext",
    "compile": True,
    "dtype": "bfloat16",
}

# Every setting nanoGPT's train.py reads (its configurator rejects any other), plus vocab_size,
# which it takes from the dataset's meta.pkl.
KEYS = frozenset(DEFAULTS) | {
    "out_dir", "log_interval", "wandb_log", "wandb_project", "wandb_run_name", "learning_rate",
    "weight_decay", "beta1", "beta2", "grad_clip", "decay_lr", "warmup_iters", "lr_decay_iters",
    "min_lr", "backend", "device",
}


def resolve(*layers: Mapping[str, Any]) -> dict[str, Any]:
    """nanoGPT's defaults overlaid with each layer in turn (config file, log, user overrides)."""
    merged = dict(DEFAULTS)
    for layer in layers:
        merged.update(layer)
    return merged


def flops_per_token(parameters: float | None, settings: Mapping[str, Any]) -> float | None:
    """``estimate_mfu``'s FLOPs per token from the printed parameters and the model shape."""
    try:
        return formulas.flops_per_token(
            parameters, settings["n_layer"], settings["n_head"], settings["n_embd"], settings["block_size"]
        )
    except (KeyError, TypeError, ZeroDivisionError):
        return None
