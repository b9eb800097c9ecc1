"""Generated logs of whole training runs, one per log format, from a known truth.

A simulated run takes ``total_steps`` steps of ``step_seconds`` each; after every step count that
is a multiple of ``eval_interval`` (and below ``total_steps``) it evaluates for ``eval_seconds``.
Each format writes what its trainer would print for that run, where and when it would print it:
every line carries the simulated time it was written (its arrival stamp when followed live).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

START = 1_700_000_000.0


@dataclass(frozen=True)
class Truth:
    total_steps: int = 2000
    step_seconds: float = 0.5
    eval_interval: int = 350
    eval_seconds: float = 20.0
    log_interval: int = 10  # steps between progress lines, where the trainer has such a setting

    def loss(self, steps: int) -> float:
        return 2.0 + 9.0 * math.exp(-5.0 * steps / self.total_steps)

    def val_loss(self, steps: int) -> float:
        return self.loss(steps) + 0.05

    def evals_from(self, steps: int) -> int:
        """Evals still to run once ``steps`` steps are done (the one at ``steps`` included, and the one
        at the last step: trainers evaluate the finished model)."""
        return sum(1 for m in range(steps, self.total_steps + 1) if m > 0 and m % self.eval_interval == 0)

    def remaining_seconds(self, steps: int) -> float:
        return (self.total_steps - steps) * self.step_seconds + self.evals_from(steps) * self.eval_seconds


@dataclass(frozen=True)
class Line:
    text: str
    arrived: float
    steps: int | None = None  # steps done when this line reports progress


@dataclass
class Run:
    """A format's log of the run: its lines and what the exporter needs besides the file."""

    lines: list[Line]
    cli_args: list[str] = field(default_factory=list)
    config: dict = field(default_factory=dict)

    def text(self, lines: list[Line] | None = None) -> str:
        return "".join(line.text + "\n" for line in (self.lines if lines is None else lines))

    def cut(self, fraction: float, truth: Truth) -> tuple[list[Line], int]:
        """The lines up to the first progress line at or past ``fraction`` of the run, and its steps."""
        target = fraction * truth.total_steps
        for index, line in enumerate(self.lines):
            if line.steps is not None and line.steps >= target:
                return self.lines[: index + 1], line.steps
        raise ValueError(f"no progress line at {fraction:.0%}")


def _timeline(truth: Truth) -> Iterator[tuple[int, float, bool]]:
    """``(steps done, time, evaluated before the next step)`` after each step."""
    now = START
    for steps in range(1, truth.total_steps + 1):
        now += truth.step_seconds
        evaluates = steps % truth.eval_interval == 0
        yield steps, now, evaluates
        if evaluates:
            now += truth.eval_seconds


def nanogpt(truth: Truth) -> Run:
    # ``iter i`` is printed after the step with iter_num i (i + 1 steps done); the eval at iter_num
    # i runs before that step, so its time is inside that line's ``time``
    lines = [Line(f"Overriding: max_iters = {truth.total_steps - 1}", START),
             Line(f"Overriding: eval_interval = {truth.eval_interval}", START),
             Line(f"Overriding: log_interval = {truth.log_interval}", START),
             Line("Initializing a new model from scratch", START)]
    evaluated_at = None
    for steps, now, evaluates in _timeline(truth):
        iter_num = steps - 1
        if evaluated_at == iter_num:
            lines.append(Line(f"step {iter_num}: train loss {truth.loss(steps):.4f}, val loss {truth.val_loss(steps):.4f}",
                              now - truth.step_seconds))
        if iter_num % truth.log_interval == 0 or evaluated_at == iter_num:
            dt = truth.step_seconds + (truth.eval_seconds if evaluated_at == iter_num else 0.0)
            lines.append(Line(f"iter {iter_num}: loss {truth.loss(steps):.4f}, time {dt * 1000:.2f}ms, mfu 30.00%", now, steps))
        if evaluates:
            evaluated_at = steps
    return Run(lines)


def llmc(truth: Truth) -> Run:
    lines = [Line("val loss 11.000000", START)]
    for steps, now, evaluates in _timeline(truth):
        lines.append(Line(
            f"step {steps:4d}/{truth.total_steps} | loss {truth.loss(steps):7.6f} (+0.01z)| norm 1.0000 (+0.00z)| "
            f"lr 6.00e-04 | {truth.step_seconds * 1000:.2f} ms | 40.0% bf16 MFU | {524288 / truth.step_seconds:.0f} tok/s",
            now, steps))
        if evaluates:
            lines.append(Line(f"val loss {truth.val_loss(steps):f}", now + truth.eval_seconds))
    lines.append(Line(f"total average iteration time: {truth.step_seconds * 1000:f} ms", lines[-1].arrived))
    return Run(lines)


def llmc_main_log(truth: Truth) -> Run:
    # no timings and no run length in main.log: the length is passed in, the time comes from arrivals
    lines = [Line("s:0 tel:11.0000", START)]
    for steps, now, evaluates in _timeline(truth):
        lines.append(Line(f"s:{steps - 1} trl:{truth.loss(steps):.4f} lr:0.000600 norm:1.00", now, steps))
        if evaluates:
            lines.append(Line(f"s:{steps} tel:{truth.val_loss(steps):.4f}", now + truth.eval_seconds))
    return Run(lines, ["--max-iters", str(truth.total_steps)], {"max_iters": truth.total_steps})


_MODDED_SOURCE = [
    "import os",
    "    val_loss_every = 125 # every how many steps to evaluate val loss? 0 for only at the end",
    '        print0(f"step:{step}/{train_steps} val_loss:{val_loss:.4f} train_time:{training_time_ms:.0f}ms '
    'step_avg:{training_time_ms/max(step, 1):.2f}ms", console=True)',
    '    print0(f"step:{step+1}/{train_steps} train_time:{approx_time:.0f}ms step_avg:{approx_time/timed_steps:.2f}ms", console=True)',
    "=" * 100,
    "| NVIDIA-SMI 550.54.15              Driver Version: 550.54.15      CUDA Version: 12.4     |",
    "=" * 100,
]
_MODDED_WARMUP_STEPS = 10
_MODDED_COMPILE_SECONDS = 30.0


def modded(truth: Truth) -> Run:
    # the October 2024 layout (with train_loss): the training clock stops for validation; the first
    # 10 steps carry compilation and the clock restarts from 0 after them, step_avg is nan until step 12
    lines = [Line(text, START) for text in _MODDED_SOURCE]
    lines.append(Line(f"step:0/{truth.total_steps} val_loss:11.0000 train_time:0ms step_avg:nanms", START))
    clock = _MODDED_COMPILE_SECONDS
    for steps, now, evaluates in _timeline(truth):
        if steps == _MODDED_WARMUP_STEPS + 1:
            clock = 0.0
        clock += truth.step_seconds
        average = "nan" if steps <= _MODDED_WARMUP_STEPS + 1 else f"{clock * 1000 / (steps - _MODDED_WARMUP_STEPS):.2f}"
        lines.append(Line(f"step:{steps}/{truth.total_steps} train_loss:{truth.loss(steps):.4f} "
                          f"train_time:{clock * 1000:.0f}ms step_avg:{average}ms", now, steps))
        if evaluates:
            lines.append(Line(f"step:{steps}/{truth.total_steps} val_loss:{truth.val_loss(steps):.4f} "
                              f"train_time:{clock * 1000:.0f}ms step_avg:{average}ms", now + truth.eval_seconds))
    lines.append(Line("peak memory allocated: 37653 MiB reserved: 39236 MiB", lines[-1].arrived))
    return Run(lines)


def nanochat(truth: Truth) -> Run:
    # prints the 0-based index of the step just taken; validation runs before step N (N steps done)
    lines = [Line("Step 00000 | Validation bpb: 3.300000", START)]
    n = truth.total_steps
    for steps, now, evaluates in _timeline(truth):
        step = steps - 1
        lines.append(Line(
            f"step {step:05d}/{n:05d} ({100 * step / n:.2f}%) | loss: {truth.loss(steps):.6f} | lrm: 1.00 | "
            f"dt: {truth.step_seconds * 1000:.2f}ms | tok/sec: {int(524288 / truth.step_seconds):,} | bf16_mfu: 40.00 | "
            f"epoch: 0 pq: 0 rg: 0 | total time: {steps * truth.step_seconds / 60:.2f}m", now, steps))
        if evaluates:
            lines.append(Line(f"Step {steps:05d} | Validation bpb: {truth.val_loss(steps) / 3:.6f}", now + truth.eval_seconds))
    lines.append(Line(f"Total training time: {n * truth.step_seconds / 60:.2f}m", lines[-1].arrived))
    return Run(lines)


def _interval(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:d}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def _bar(desc: str, n: int, total: int, elapsed: float, seconds_per_it: float, postfix: str = "") -> str:
    filled = 10 * n // total
    remaining = _interval((total - n) * seconds_per_it)
    rate = f"{1 / seconds_per_it:5.2f}it/s" if seconds_per_it <= 1 else f"{seconds_per_it:5.2f}s/it"
    prefix = f"{desc}: " if desc else ""
    return f"{prefix}{100 * n // total:3d}%|{'█' * filled}{' ' * (10 - filled)}| {n}/{total} [{_interval(elapsed)}<{remaining}, {rate}{postfix}]"


HF_LOGGING_STEPS = 100


def hf(truth: Truth) -> Run:
    # the bar's updates are joined by \r and a physical line ends only where a dict is written (every
    # logging step and after each eval) or where the eval bar, drawn one row below, starts
    n = truth.total_steps
    lines: list[Line] = []
    pending = f"\r{_bar('', 0, n, 0, truth.step_seconds)}"
    for steps, now, evaluates in _timeline(truth):
        bar = _bar("", steps, n, now - START, truth.step_seconds)
        pending += f"\r{bar}"
        if steps % HF_LOGGING_STEPS == 0:
            lines.append(Line(f"{pending}\r{' ' * 60}\r{{'loss': {truth.loss(steps):.4f}, 'grad_norm': 1.0, "
                              f"'learning_rate': 6e-04, 'epoch': {steps / n:.2f}}}", now, steps))
            pending = f"\r{bar}"
        if evaluates:
            lines.append(Line(pending, now, steps))
            for k in range(1, 11):
                lines.append(Line(f"\r{_bar('', k, 10, truth.eval_seconds * k / 10, truth.eval_seconds / 10)}\x1b[A",
                                  now + truth.eval_seconds * k / 10))
            lines.append(Line(f"\r{bar}\r{' ' * 60}\r{{'eval_loss': '{truth.val_loss(steps):.4g}', 'eval_runtime': "
                              f"'{truth.eval_seconds:.4g}', 'epoch': '{steps / n:.4g}'}}", now + truth.eval_seconds))
            pending = f"\r{bar}"
    end = lines[-1].arrived
    lines.append(Line(f"{pending}\r{{'train_runtime': {end - START:.4f}, 'train_loss': {truth.loss(n):.4f}, 'epoch': 1.0}}", end))
    return Run(lines)


def lightning(truth: Truth) -> Run:
    # one epoch per eval interval; Lightning validates at the end of each epoch, its bar drawn one
    # row below; the run's length is not printed, so it is passed in
    per_epoch = truth.eval_interval
    if truth.total_steps % per_epoch:
        raise ValueError("the Lightning run has whole epochs: total_steps must be a multiple of eval_interval")
    epochs = truth.total_steps // per_epoch
    total = truth.total_steps
    lines: list[Line] = []
    now = START
    for epoch in range(epochs):
        pending = ""
        for n in range(1, per_epoch + 1):
            now += truth.step_seconds
            steps = epoch * per_epoch + n
            postfix_here = f", v_num=0, train_loss={truth.loss(steps):.3f}"
            pending += f"\r{_bar(f'Epoch {epoch}', n, per_epoch, n * truth.step_seconds, truth.step_seconds, postfix_here)}"
        lines.append(Line(pending, now, total if epoch == epochs - 1 else (epoch + 1) * per_epoch))
        if epoch < epochs - 1:
            for k in range(1, 11):
                lines.append(Line(f"\r{_bar('Validation DataLoader 0', k, 10, truth.eval_seconds * k / 10, truth.eval_seconds / 10)}\x1b[A",
                                  now + truth.eval_seconds * k / 10))
            now += truth.eval_seconds
    return Run(lines, ["--max-iters", str(total)], {"max_iters": total})


def jsonl(truth: Truth) -> Run:
    lines = [Line(f'{{"step": 0, "val_loss": {truth.val_loss(0):.4f}}}', START)]
    for steps, now, evaluates in _timeline(truth):
        if steps % truth.log_interval == 0:
            lines.append(Line(f'{{"step": {steps}, "max_steps": {truth.total_steps}, "loss": {truth.loss(steps):.4f}, '
                              f'"dt": {truth.step_seconds}}}', now, steps))
        if evaluates:
            lines.append(Line(f'{{"step": {steps}, "val_loss": {truth.val_loss(steps):.4f}}}', now + truth.eval_seconds))
    return Run(lines)


CUSTOM_SPEC = r"""progress: '^it (?P<iteration>\d+)/(?P<max_iterations>\d+) loss=(?P<loss>\S+) took (?P<iteration_ms>[\d.]+)ms'
eval: '^eval (?P<iteration>\d+) val=(?P<val_loss>\S+)'
"""


def custom(truth: Truth) -> Run:
    lines = [Line(f"eval 0 val={truth.val_loss(0):.4f}", START)]
    for steps, now, evaluates in _timeline(truth):
        if steps % truth.log_interval == 0:
            lines.append(Line(f"it {steps}/{truth.total_steps} loss={truth.loss(steps):.4f} took {truth.step_seconds * 1000:.1f}ms",
                              now, steps))
        if evaluates:
            lines.append(Line(f"eval {steps} val={truth.val_loss(steps):.4f}", now + truth.eval_seconds))
    return Run(lines)


GENERATORS = {
    "nanogpt": nanogpt,
    "llmc": llmc,
    "llmc-main-log": llmc_main_log,
    "modded": modded,
    "nanochat": nanochat,
    "hf": hf,
    "lightning": lightning,
    "jsonl": jsonl,
    "custom": custom,
}


def generate(name: str, truth: Truth) -> Run:
    """The log of ``truth``'s run as trainer format ``name`` writes it."""
    return GENERATORS[name](truth)
