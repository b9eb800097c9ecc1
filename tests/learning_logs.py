"""Generated training logs with one learning event injected at a known iteration (no real logs in
the test suite): a healthy loss curve with noise, and a spike, a drift, a flat stretch, a
gradient-norm spike or a rising val loss from ``EVENT_AT`` on."""

from __future__ import annotations

import math
import random

EVENT_AT = 1500
ITERATIONS = 2400
STEP_SECONDS = 0.2
EVAL_INTERVAL = 250
START = 1_800_000_000.0


def healthy_loss(iteration: int) -> float:
    return 1.5 + 3.0 * math.exp(-iteration / 400)


def _loss(event: str, iteration: int, rng: random.Random) -> float:
    loss = healthy_loss(iteration) * (1 + rng.gauss(0, 0.02))
    since = iteration - EVENT_AT
    if since < 0:
        return loss
    if event == "spike_sustained" and since < 20 or event == "spike_recovers" and since < 3:
        return 3 * loss
    if event == "drift":  # up 50 % over 600 iterations, and on
        return loss * (1 + 0.5 * since / 600)
    if event == "flat":  # jumped to 1.6 times its level and stuck there
        return 1.6 * healthy_loss(EVENT_AT) * (1 + rng.gauss(0, 0.02))
    return loss


def _val(event: str, iteration: int) -> float:
    val = healthy_loss(iteration) + 0.05
    if event == "overfitting" and iteration > EVENT_AT:
        return healthy_loss(EVENT_AT) + 0.05 + 0.02 * (iteration - EVENT_AT) / EVAL_INTERVAL
    return val


def nanogpt(event: str = "healthy", seed: int = 3) -> list[tuple[str, float]]:
    """(line, arrival time) of a nanoGPT run logging every iteration, ``max_iters`` printed."""
    rng = random.Random(seed)
    lines = [("Overriding: max_iters = 5000", START), ("Initializing a new model from scratch", START)]
    for iteration in range(ITERATIONS + 1):
        at = START + iteration * STEP_SECONDS
        if iteration % EVAL_INTERVAL == 0:
            val = _val(event, iteration)
            lines.append((f"step {iteration}: train loss {healthy_loss(iteration):.4f}, val loss {val:.4f}", at))
        lines.append((f"iter {iteration}: loss {_loss(event, iteration, rng):.4f}, time 200.00ms, mfu 30.00%", at))
    return lines


def llmc(event: str = "grad_norm_spike", seed: int = 4) -> list[tuple[str, float]]:
    """(line, arrival time) of an llm.c run whose gradient norm is 6 times its level for 20 steps."""
    rng = random.Random(seed)
    lines = []
    for step in range(1, ITERATIONS + 1):
        norm = (0.4 + 2.0 * math.exp(-step / 300)) * (1 + rng.gauss(0, 0.05))
        if event == "grad_norm_spike" and EVENT_AT <= step < EVENT_AT + 20:
            norm *= 6
        loss = healthy_loss(step) * (1 + rng.gauss(0, 0.02))
        lines.append((f"step {step:4d}/5000 | loss {loss:.6f} (+0.00z)| norm {norm:.4f} (+0.00z)| lr 6.00e-04 | "
                      f"200.00 ms | 40.0% bf16 MFU | 100000 tok/s", START + step * STEP_SECONDS))
    return lines
