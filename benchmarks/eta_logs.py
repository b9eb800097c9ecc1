"""Generated trainer logs for benchmarks/eta_accuracy.py, whose true timing is known exactly.

nanoGPT-style logs carry a Unix-time prefix on every line (what ``ts '%.s'`` writes); modded-style
logs carry the trainer's ``train_time`` clock, and a prefix too where ``stamped``. Step times are
drawn from seeded generators, so every run writes the same files.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

T0 = 1_700_000_000.0  # the first line's Unix time
COMPILE_SECONDS = 15.0  # iteration 0 (nanoGPT) carries compilation
SLOWDOWN_AT = 0.3  # where slowdown_2x doubles its step time, as a fraction of the run

StepTime = Callable[[float, random.Random], float]  # (fraction of the run, rng) -> seconds


@dataclass(frozen=True)
class Scenario:
    name: str
    style: str  # "nanogpt" or "modded"
    max_iters: int
    step_time: StepTime
    eval_interval: int
    eval_seconds: float
    log_interval: int = 10
    checkpoint_seconds: float = 0.0  # a save after an eval that improved the val loss (nanoGPT)
    save_probability: float = 1.0  # how often an eval improves the val loss
    stamped: bool = True  # modded style: write Unix-time prefixes too
    seed: int = 0


def skewed(ms: float) -> StepTime:
    """``ms`` with right-skewed noise: a few percent around it, and now and then a slow step."""

    def step(fraction: float, rng: random.Random) -> float:
        slow = rng.uniform(2.0, 4.0) if rng.random() < 0.01 else 1.0
        return ms / 1000 * rng.lognormvariate(0.0, 0.04) * slow

    return step


def steady(ms: float) -> StepTime:
    """Exactly ``ms`` every step: no noise."""
    return lambda fraction, rng: ms / 1000


def staged(stages: list[tuple[float, float]]) -> StepTime:
    """Step time (ms) rising in stages: ``(from fraction, ms)`` pairs in order."""

    def step(fraction: float, rng: random.Random) -> float:
        ms = [ms for start, ms in stages if fraction >= start][-1]
        return skewed(ms)(fraction, rng)

    return step


def linear(first_ms: float, last_ms: float) -> StepTime:
    return lambda fraction, rng: skewed(first_ms + (last_ms - first_ms) * fraction)(fraction, rng)


def scenarios() -> list[Scenario]:
    """The default set."""
    return [
        Scenario("steady", "nanogpt", 6000, skewed(100), 500, 3.0, checkpoint_seconds=1.0, seed=1),
        Scenario("staged_ramp", "modded", 2000, staged([(0, 33), (0.35, 40), (0.55, 50), (0.75, 60)]),
                 250, 2.0, log_interval=1, stamped=False, seed=2),
        Scenario("linear_ramp", "nanogpt", 6000, linear(100, 200), 500, 3.0, checkpoint_seconds=1.0, seed=3),
        Scenario("slowdown_2x", "nanogpt", 6000, staged([(0, 100), (SLOWDOWN_AT, 200)]), 500, 3.0,
                 checkpoint_seconds=1.0, seed=4),
        Scenario("evals_half_nanogpt", "nanogpt", 6000, skewed(50), 200, 10.0, checkpoint_seconds=0.5, seed=5),
        Scenario("evals_half_modded", "modded", 3000, skewed(50), 100, 5.0, log_interval=1, seed=6),
        Scenario("checkpoint_saves", "nanogpt", 6000, skewed(100), 250, 1.0, checkpoint_seconds=20.0,
                 save_probability=0.5, seed=7),
    ]


def _loss(fraction: float, rng: random.Random) -> float:
    return 1.8 + 2.4 * math.exp(-4 * fraction) + rng.uniform(-0.03, 0.03)


def _nanogpt_header(s: Scenario) -> list[str]:
    return [
        "Overriding config with config/train_bench.py:",
        "out_dir = 'out'",
        f"eval_interval = {s.eval_interval}",
        "eval_iters = 20",
        f"log_interval = {s.log_interval}",
        f"max_iters = {s.max_iters}",
        f"always_save_checkpoint = {s.save_probability >= 1.0}",
        "",
        "tokens per iteration will be: 65,536",
        "Initializing a new model from scratch",
        "number of parameters: 10.65M",
    ]


def nanogpt_lines(s: Scenario) -> list[tuple[float, str]]:
    """``(Unix time, line)`` of a nanoGPT train.py run: the eval at a multiple of eval_interval runs
    before that iteration's step, and the iteration's printed time carries it and the save."""
    rng = random.Random(s.seed)
    now = T0
    out = [(now, line) for line in _nanogpt_header(s)]
    for i in range(s.max_iters + 1):
        fraction = i / s.max_iters
        started = now
        if i % s.eval_interval == 0:
            now += s.eval_seconds
            out.append((now, f"step {i}: train loss {_loss(fraction, rng):.4f}, val loss {_loss(fraction, rng):.4f}"))
            if i > 0 and rng.random() < s.save_probability:
                now += s.checkpoint_seconds
                out.append((now, "saving checkpoint to out"))
        now += s.step_time(fraction, rng) + (COMPILE_SECONDS if i == 0 else 0.0)
        if i % s.log_interval == 0:
            mfu = -100.0 if i < 5 * s.log_interval else 30.0
            out.append((now, f"iter {i}: loss {_loss(fraction, rng):.4f}, time {(now - started) * 1000:.2f}ms, "
                             f"mfu {mfu:.2f}%"))
    return out


def modded_lines(s: Scenario) -> list[tuple[float, str]]:
    """``(Unix time, line)`` of a modded-nanogpt run: ``train_time`` stops while validating."""
    rng = random.Random(s.seed)
    now, clock, m = T0, 0.0, s.max_iters

    def val_line(step: int) -> str:
        avg = clock * 1000 / max(step, 1)
        return (f"step:{step}/{m} val_loss:{_loss(step / m, rng):.4f} train_time:{clock * 1000:.0f}ms "
                f"step_avg:{avg:.2f}ms")

    out = [(now, val_line(0))]
    for step in range(1, m + 1):
        took = s.step_time(step / m, rng)
        now, clock = now + took, clock + took
        if step % s.log_interval == 0 or step == m:
            out.append((now, f"step:{step}/{m} train_time:{clock * 1000:.0f}ms step_avg:{clock * 1000 / step:.2f}ms"))
        if step % s.eval_interval == 0 or step == m:
            now += s.eval_seconds
            out.append((now, val_line(step)))
    out.append((now, "peak memory allocated: 29148 MiB reserved: 45120 MiB"))
    return out


def write_log(s: Scenario, directory: Path) -> Path:
    """Write ``s``'s log into ``directory`` as ``<name>.log``."""
    stamped = s.style == "nanogpt" or s.stamped
    lines = nanogpt_lines(s) if s.style == "nanogpt" else modded_lines(s)
    path = Path(directory) / f"{s.name}.log"
    path.write_text("".join(f"{t:.6f} {text}\n" if stamped else f"{text}\n" for t, text in lines))
    return path
