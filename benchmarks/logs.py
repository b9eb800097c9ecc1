"""The logs the performance benchmark reads: a nanoGPT log written at once, a noisy one (half of
its lines are a trainer's other output), and one written line by line as a live run writes it."""

from __future__ import annotations

import itertools
import random
import threading
import time
from pathlib import Path

EVAL_INTERVAL = 2000
HEADER = "Overriding config with config/train_gpt2.py:\nmax_iters = 5000000\neval_interval = 2000\n\n"

# What else a training prints: Python warnings, tqdm bars (data loading, evaluation), wandb.
NOISE = (
    "/usr/lib/python3/dist-packages/torch/_dynamo/eval_frame.py:745: UserWarning: TensorFloat32 tensor cores "
    "for float32 matrix multiplication available but not enabled",
    "  warnings.warn(",
    " 45%|████▌     | 450/1000 [01:40<02:02,  4.50it/s]",
    "Loading shards: 100%|██████████| 4/4 [00:03<00:00,  1.20it/s]",
    "wandb: Syncing run fancy-sun-12",
    "wandb: 🚀 View run at https://wandb.ai/someone/owt/runs/3kq9",
    "[rank0]:[W1202 03:00:00.000000 123 ProcessGroupNCCL.cpp:4115] using GPU 0 to perform barrier",
    "W1202 03:00:01.123000 456 torch/_inductor/utils.py:1137] not enough SMs to use max_autotune_gemm mode",
)


def progress_line(iteration: int, rng: random.Random) -> str:
    return f"iter {iteration}: loss {3 + rng.random():.4f}, time {170 + rng.random():.2f}ms, mfu 31.52%\n"


def write_log(path: Path, lines: int, noisy: bool = False) -> None:
    """``lines`` lines of a nanoGPT run (an eval and a checkpoint every 2,000 iterations); a noisy
    log has one line of other output after each progress line."""
    rng = random.Random(0)
    noise = itertools.cycle(NOISE)
    written = 0
    with path.open("w") as f:
        f.write(HEADER)
        for iteration in itertools.count():
            if written >= lines:
                return
            if iteration % EVAL_INTERVAL == 0:
                f.write(f"step {iteration}: train loss 3.1234, val loss 3.2345\nsaving checkpoint to out\n")
                written += 2
            f.write(progress_line(iteration, rng))
            written += 1
            if noisy:
                f.write(next(noise) + "\n")
                written += 1


def count_lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


class LiveLog:
    """Appends progress lines to ``path`` at ``rate`` lines per second, flushed one by one, as a
    trainer writes them; :meth:`write_until` is run in a thread of its own."""

    def __init__(self, path: Path, rate: float) -> None:
        self.path = path
        self.rate = rate
        path.write_text(HEADER)

    def write_until(self, stop: threading.Event) -> None:
        rng = random.Random(1)
        started = time.monotonic()
        with self.path.open("a") as f:
            for iteration in itertools.count():
                if stop.is_set():
                    return
                f.write(progress_line(iteration, rng))
                f.flush()
                time.sleep(max(0.0, started + (iteration + 1) / self.rate - time.monotonic()))
