"""Why a run is in its state, in words a person reads at a glance: the error line of a crash, the
silence of a stall, the file a waiting run waits for. Pure: the facts in, one short line out."""

from __future__ import annotations

import signal

from exporter.units import duration

KIND_TEXT = {
    "oom": "CUDA out of memory",
    "traceback": "a Python traceback",
    "process_gone": "the trainer's process is gone (its exit status not known)",
}


def crash_text(kind: str, message: str | None = None) -> str:
    """What a crash marker of ``kind`` says, its own line first."""
    return message or KIND_TEXT.get(kind, kind)


def exit_text(returncode: int) -> str:
    """``killed by SIGKILL``, ``exited with status 1``."""
    if returncode >= 0:
        return f"the trainer exited with status {returncode}"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = f"signal {-returncode}"
    return f"the trainer was killed by {name}"


def state_reason(state: str, *, crash: str | None, loss_finite: bool, silent_seconds: float | None,
                 timeout_seconds: float, log_path: str, log_problem: str | None,
                 iteration: int | None) -> str | None:
    """The cause of ``state`` (None for a run that simply runs)."""
    if state == "waiting":
        return log_problem or (f"waiting for the log {log_path}" if log_path else "waiting for a log")
    if state == "starting":
        return "the log is there; no progress line yet"
    if state == "crashed":
        if crash:
            return crash
        at = f" at iteration {iteration:,}" if iteration is not None else ""
        return f"NaN/inf loss{at}" if not loss_finite else "crashed"
    if state == "stalled" and silent_seconds is not None:
        return f"no progress for {duration(silent_seconds)} (timeout {duration(timeout_seconds)})"
    if state == "interrupted":
        return "stopped by the user (Ctrl-C or SIGTERM)"
    if state == "finished" and iteration is not None:
        return f"finished at iteration {iteration:,}"
    return None


def lasting_reason(state: str, reason: str | None, timeout_seconds: float | None) -> str | None:
    """``reason`` as a label value that stays the same while the state does: a stall's growing
    silence as the timeout it passed (a new label value each minute would be a new series)."""
    if state == "stalled" and timeout_seconds is not None:
        return f"no progress for longer than the timeout ({duration(timeout_seconds)})"
    return reason
