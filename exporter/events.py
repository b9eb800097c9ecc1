"""Trainer-independent events that log parsers produce (one line -> one event or None).

Plain slotted dataclasses (not frozen: creating them is on the backfill's hot path)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Progress:
    """A training progress line.

    ``iteration_seconds`` is the wall time of this one iteration (nanoGPT ``time``, llm.c ``ms``);
    ``elapsed_seconds`` is a cumulative training clock (modded-nanogpt ``train_time``) that may
    exclude evaluation; ``includes_eval`` says whether an iteration at an eval boundary carries the
    eval's cost in ``iteration_seconds`` (true for nanoGPT); ``grad_norm`` is the gradient norm
    where the trainer prints one.
    """

    iteration: int
    loss: float | None = None
    max_iterations: int | None = None
    iteration_seconds: float | None = None
    elapsed_seconds: float | None = None
    tokens_per_second: float | None = None
    mfu_ratio: float | None = None
    includes_eval: bool = False
    grad_norm: float | None = None


@dataclass(slots=True)
class Loss:
    """A training loss reported without the iteration it belongs to (a logged dict with no bar)."""

    value: float
    grad_norm: float | None = None


@dataclass(slots=True)
class Eval:
    """Evaluation losses by split (``train``, ``val``, ...), at ``iteration`` when the line says."""

    losses: dict[str, float]
    iteration: int | None = None


@dataclass(slots=True)
class Checkpoint:
    iteration: int | None = None
    path: str | None = None  # the directory the trainer says it saves to


@dataclass(slots=True)
class Parameters:
    """Model size as the trainer prints it."""

    count: float


@dataclass(slots=True)
class TokensPerIteration:
    tokens: int


@dataclass(slots=True)
class ConfigValue:
    """One trainer configuration assignment seen in the log (``max_iters = 20000``)."""

    key: str
    value: Any


@dataclass(slots=True)
class RunStart:
    """The trainer (re)started: ``resumed`` is true for a resume from a checkpoint."""

    resumed: bool = False


@dataclass(slots=True)
class TrainerError:
    """A crash marker: ``kind`` is ``oom`` or ``traceback``; or, when the trainer's watched process
    ended short of its last iteration, ``killed`` (by a signal), ``exited`` (an error code) or
    ``process_gone`` (its code not known); ``message`` says what happened, where a line or the exit
    status tells."""

    kind: str
    message: str | None = None


@dataclass(slots=True)
class ErrorMessage:
    """The last line of a Python traceback (``RuntimeError: CUDA error: ...``): what the crash was."""

    text: str


@dataclass(slots=True)
class RunEnd:
    """The trainer printed its end-of-run summary."""

    wall_seconds: float | None = None


Event = (Progress | Loss | Eval | Checkpoint | Parameters | TokensPerIteration | ConfigValue | RunStart | TrainerError
         | ErrorMessage | RunEnd)
