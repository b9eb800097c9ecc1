"""PyTorch Lightning's ``TQDMProgressBar``: ``Epoch 3:  45%|████▌     | 450/1000 [01:40<02:02,
4.50it/s, v_num=1, train_loss=2.310]``, redrawn with ``\\r`` (the last update of a line counts).

The bar counts batches within one epoch; the iteration reported is ``epoch × batches + batch``.
The number of epochs is not printed, so the run's length comes from the configured ``max_iters``.
The bar's elapsed time restarts every epoch and is not reported as a training clock. The last
update of the validation bar (drawn one row below) marks an eval, so its cost can be measured.
"""

from __future__ import annotations

import re

from exporter.events import Eval, Event, Progress
from exporter.formats.numbers import count, real
from exporter.formats.tqdm import BAR_MARK, Bar, parse_bar, parse_bar_below

NAME = "lightning"

_EPOCH = re.compile(r"^Epoch (\d+)$")
_VALIDATION = re.compile(r"^Validation(?: DataLoader \d+)?$")
# what LightningModule.log(..., prog_bar=True) names the training loss, most specific first
_LOSS_KEYS = ("train_loss_step", "train_loss", "loss_step", "loss")


def _loss(bar: Bar) -> float | None:
    for key in _LOSS_KEYS:
        if key in bar.postfix:
            return real(bar.postfix[key])
    return None


def parse(line: str) -> Event | None:
    if BAR_MARK not in line:
        return None
    for segment in filter(None, reversed(line.split("\r"))):
        below = parse_bar_below(segment)
        if below and _VALIDATION.match(below.desc) and below.n == below.total:
            return Eval({})
        bar = parse_bar(segment)
        if bar and (match := _EPOCH.match(bar.desc)) and (epoch := count(match[1])) is not None:
            return Progress(
                iteration=epoch * bar.total + bar.n,
                loss=_loss(bar),
                iteration_seconds=bar.iteration_seconds,
            )
    return None
