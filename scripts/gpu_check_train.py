"""A small GPT trained on random tokens for scripts/gpu_check.sh, printing the lines nanoGPT's train.py
prints (config overrides, parameters, evals, iterations with time and MFU), one flushed line at a time.

``--fake`` prints the same lines on a timer without PyTorch, for the test suite on a machine without a GPU.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable

# Printed as nanoGPT's configurator prints command-line overrides, so the exporter knows the model's
# shape (n_layer, n_head, n_embd, block_size) and the tokens per iteration. The run ends on time,
# long before max_iters.
CONFIG = {
    "batch_size": 16,
    "block_size": 1024,
    "gradient_accumulation_steps": 2,
    "n_layer": 8,
    "n_head": 12,
    "n_embd": 768,
    "dropout": 0.0,
    "bias": False,
    "max_iters": 100000,
    "eval_interval": 250,
    "eval_iters": 10,
    "log_interval": 1,
    "learning_rate": 6e-4,
}
VOCAB_SIZE = 8192
A100_BF16_PEAK = 312e12  # what nanoGPT's estimate_mfu divides by


def say(line: str) -> None:
    print(line, flush=True)


def parameters_without_wpe(cfg: dict) -> int:
    """nanoGPT's get_num_params(): tied token embedding, bias-free blocks, no position embedding."""
    d = cfg["n_embd"]
    return VOCAB_SIZE * d + cfg["n_layer"] * (12 * d * d + 2 * d) + d


def estimate_mfu(cfg: dict, parameters: int, seconds: float) -> float:
    """nanoGPT's GPT.estimate_mfu for one iteration of ``seconds``, against the A100's bf16 peak."""
    layers, heads, head_size, block = cfg["n_layer"], cfg["n_head"], cfg["n_embd"] // cfg["n_head"], cfg["block_size"]
    per_token = 6 * parameters + 12 * layers * heads * head_size * block
    per_iteration = per_token * block * cfg["batch_size"] * cfg["gradient_accumulation_steps"]
    return per_iteration / seconds / A100_BF16_PEAK


def train_loop(cfg: dict, parameters: int, seconds: float, step: Callable[[], object],
               evaluate: Callable[[], dict[str, float]]) -> None:
    """nanoGPT's loop: eval at every eval_interval, then one step; stops after ``seconds``."""
    end = time.monotonic() + seconds
    iter_num, running_mfu, t0 = 0, -1.0, time.time()
    while True:
        if iter_num % cfg["eval_interval"] == 0:
            losses = evaluate()
            say(f"step {iter_num}: train loss {losses['train']:.4f}, val loss {losses['val']:.4f}")
        loss = step()
        t1 = time.time()
        dt, t0 = t1 - t0, t1
        lossf = float(loss) * cfg["gradient_accumulation_steps"]  # waits for the GPU, as loss.item() does
        if iter_num >= 5:
            mfu = estimate_mfu(cfg, parameters, dt)
            running_mfu = mfu if running_mfu == -1.0 else 0.9 * running_mfu + 0.1 * mfu
        say(f"iter {iter_num}: loss {lossf:.4f}, time {dt * 1000:.2f}ms, mfu {running_mfu * 100:.2f}%")
        iter_num += 1
        if iter_num > cfg["max_iters"] or time.monotonic() >= end:
            return


def init_params(cfg: dict, device: str) -> dict:
    import torch

    d, shapes = cfg["n_embd"], {"wte": (VOCAB_SIZE, cfg["n_embd"]), "wpe": (cfg["block_size"], cfg["n_embd"])}
    for i in range(cfg["n_layer"]):
        shapes.update({f"{i}.attn": (3 * d, d), f"{i}.attn_proj": (d, d), f"{i}.fc": (4 * d, d),
                       f"{i}.mlp_proj": (d, 4 * d), f"{i}.ln_1": (d,), f"{i}.ln_2": (d,)})
    shapes["ln_f"] = (d,)
    return {name: (torch.randn(shape, device=device) * 0.02 if len(shape) == 2
                   else torch.ones(shape, device=device)).requires_grad_()
            for name, shape in shapes.items()}


def forward(p: dict, idx, targets, cfg: dict):
    """GPT-2's forward pass (pre-norm blocks, causal flash attention, tied head); the mean loss."""
    from torch.nn import functional as F

    (batch, block), d, heads = idx.shape, cfg["n_embd"], cfg["n_head"]
    x = F.embedding(idx, p["wte"]) + p["wpe"][:block]
    for i in range(cfg["n_layer"]):
        q, k, v = F.linear(F.layer_norm(x, (d,), p[f"{i}.ln_1"]), p[f"{i}.attn"]).split(d, dim=2)
        q, k, v = (t.view(batch, block, heads, d // heads).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(batch, block, d)
        x = x + F.linear(y, p[f"{i}.attn_proj"])
        h = F.gelu(F.linear(F.layer_norm(x, (d,), p[f"{i}.ln_2"]), p[f"{i}.fc"]))
        x = x + F.linear(h, p[f"{i}.mlp_proj"])
    logits = F.linear(F.layer_norm(x, (d,), p["ln_f"]), p["wte"])
    return F.cross_entropy(logits.float().view(-1, VOCAB_SIZE), targets.view(-1))


def train_torch(cfg: dict, seconds: float, device: str) -> None:
    import torch

    torch.manual_seed(1337)
    torch.backends.cuda.matmul.allow_tf32 = True
    params = init_params(cfg, device)
    parameters = sum(t.numel() for t in params.values()) - params["wpe"].numel()
    say(f"number of parameters: {parameters / 1e6:.2f}M")
    matrices = [t for t in params.values() if t.dim() >= 2]
    vectors = [t for t in params.values() if t.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": matrices, "weight_decay": 0.1}, {"params": vectors, "weight_decay": 0.0}],
                                  lr=cfg["learning_rate"], betas=(0.9, 0.95), fused=device == "cuda")
    say(f"using fused AdamW: {device == 'cuda'}")
    shape = (cfg["batch_size"], cfg["block_size"])

    def loss_of_random_batch():
        with torch.autocast(device_type=device, dtype=torch.bfloat16):
            return forward(params, torch.randint(VOCAB_SIZE, shape, device=device),
                           torch.randint(VOCAB_SIZE, shape, device=device), cfg)

    def step():
        for _ in range(cfg["gradient_accumulation_steps"]):
            loss = loss_of_random_batch() / cfg["gradient_accumulation_steps"]
            loss.backward()
        torch.nn.utils.clip_grad_norm_(list(params.values()), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss.detach()

    @torch.no_grad()
    def evaluate():
        return {split: sum(loss_of_random_batch().item() for _ in range(cfg["eval_iters"])) / cfg["eval_iters"]
                for split in ("train", "val")}

    train_loop(cfg, parameters, seconds, step, evaluate)


def train_fake(cfg: dict, seconds: float, iteration_ms: float) -> None:
    """The same lines without PyTorch: each iteration sleeps ``iteration_ms``, each eval five of them."""
    parameters = parameters_without_wpe(cfg)
    say(f"number of parameters: {parameters / 1e6:.2f}M")
    steps = [0]

    def step() -> float:
        time.sleep(iteration_ms / 1000)
        steps[0] += 1
        return (math.log(VOCAB_SIZE) + math.exp(-steps[0] / 200)) / cfg["gradient_accumulation_steps"]

    def evaluate() -> dict[str, float]:
        time.sleep(5 * iteration_ms / 1000)
        return {"train": math.log(VOCAB_SIZE) + 0.01, "val": math.log(VOCAB_SIZE) + 0.02}

    train_loop(cfg, parameters, seconds, step, evaluate)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=120.0, help="training time (after start-up)")
    parser.add_argument("--device", default="cuda", help="cpu works too, slowly")
    parser.add_argument("--fake", action="store_true", help="no PyTorch: print the lines on a timer")
    parser.add_argument("--fake-iteration-ms", type=float, default=60.0)
    args = parser.parse_args()
    for key, value in CONFIG.items():
        say(f"Overriding: {key} = {value}")
    tokens = CONFIG["gradient_accumulation_steps"] * CONFIG["batch_size"] * CONFIG["block_size"]
    say(f"tokens per iteration will be: {tokens:,}")
    say("Initializing a new model from scratch")
    if args.fake:
        train_fake(CONFIG, args.seconds, args.fake_iteration_ms)
    else:
        train_torch(CONFIG, args.seconds, args.device)


if __name__ == "__main__":
    main()
