"""Which state a run is in, from what its log has shown so far."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StallTimeouts:
    """Never call a run stalled sooner than ``min_progress_seconds`` after its last progress line,
    nor sooner than ``startup_seconds`` before its first one."""

    min_progress_seconds: float = 120.0
    startup_seconds: float = 900.0


@dataclass(frozen=True, slots=True)
class Signals:
    """What the log says about how the run is going."""

    log_present: bool
    started: bool  # a progress line was seen
    interrupted: bool  # the user stopped the trainer (Ctrl-C, SIGTERM through the run wrapper)
    crashed: bool  # a crash marker, or the latest loss is not finite
    ended: bool  # the trainer's end-of-run line, or the last iteration reached
    near_end: bool  # the last progress line was the last one the trainer prints before max_iters
    silent_seconds: float | None  # since the last progress line (before the first: any line)
    timeout_seconds: float


def decide_state(s: Signals) -> str:
    if not s.log_present:
        return "waiting"
    if s.interrupted:
        return "interrupted"
    if s.crashed:
        return "crashed"
    if s.ended:
        return "finished"
    if s.silent_seconds is not None and s.silent_seconds > s.timeout_seconds:
        # a trainer prints every log_interval iterations: silence after its last print is the end
        return "finished" if s.near_end else "stalled"
    return "running" if s.started else "starting"
