"""The training alerts of ``prometheus/rules/training-alerts.yml``, evaluated on the exporter's own
run snapshot: the same conditions, and the same summary, description and fields as their
annotations (iteration / max, ETA, cost so far, what to check first)."""

from __future__ import annotations

from dataclasses import dataclass

from exporter.alerts.alert import Active
from exporter.alerts.history import Recent
from exporter.run import RunSnapshot
from exporter.units import duration, kwh

ENDED = frozenset({"finished", "crashed", "interrupted"})
SILENT_CRASH_SECONDS = 900.0  # no line of any kind for 15 min: the trainer has died
NONFINITE_WINDOW_SECONDS = 600.0  # a nan/inf (eval) loss in the last 10 min
PROCESS_ENDINGS = ("process_gone", "killed", "exited")


@dataclass(frozen=True)
class Spend:
    """The run's energy and electricity cost so far."""

    joules: float
    cost: float
    currency: str
    projected_cost: float | None = None  # at the finish, at the recent power and the ETA
    budget: float | None = None  # --budget, in the same currency


def two_places(value: float) -> str:
    """1.20 from 1 up, two significant digits below (0.0031), as the rules print cost and kWh."""
    return f"{value:.2g}" if value < 1.0 else f"{value:.2f}"


def _iteration(s: RunSnapshot) -> str:
    return "unknown" if s.iteration is None else str(s.iteration)


def _eta(s: RunSnapshot) -> str:
    return "unknown" if s.eta_seconds is None else duration(s.eta_seconds)


def _cost(spend: Spend | None) -> str:
    return "not measured" if spend is None else f"{two_places(spend.cost)} {spend.currency}"


def _alert(s: RunSnapshot, spend: Spend | None, name: str, summary: str, description: str,
           labels: tuple[tuple[str, str], ...] = ()) -> Active:
    """A training alert, with the iteration, ETA and cost lines of the rules' run context."""
    of_max = f" / {s.max_iterations}" if s.max_iterations else ""
    return Active(name, labels, summary, description, details=(
        ("Iteration", _iteration(s) + of_max), ("ETA", _eta(s)), ("Cost so far", _cost(spend))))


def _silence(s: RunSnapshot, now: float) -> float | None:
    """Seconds since the last progress line, when it is past the exporter's own timeout."""
    if s.last_progress_timestamp is None or s.progress_timeout_seconds is None:
        return None
    silent = now - s.last_progress_timestamp
    return silent if silent > s.progress_timeout_seconds else None


def stalled(s: RunSnapshot, now: float, spend: Spend | None) -> Active | None:
    silent = _silence(s, now)
    if silent is None or s.state in ENDED:
        return None
    return _alert(
        s, spend, "TrainingStalled", f"Run {s.run} has printed no progress for {duration(silent)}",
        f"Run {s.run} has printed no progress line for {duration(silent)} (allowed now: "
        f"{duration(s.progress_timeout_seconds or 0)}, a due eval or checkpoint included). Last iteration "
        f"{_iteration(s)}, ETA before the stall {_eta(s)}. Check first: is the trainer process still alive and "
        "using the GPU (ps, nvidia-smi)? Then the end of the log for a hang (data loader, NCCL, full disk).")


def crashed(s: RunSnapshot, spend: Spend | None) -> Active | None:
    """A traceback, a CUDA OOM or the trainer's process ending short of max_iters."""
    if s.state != "crashed" or not any(s.errors.values()):
        return None
    oom = s.errors.get("oom", 0) > 0
    ending = next((kind for kind in PROCESS_ENDINGS if s.errors.get(kind)), None)
    reason = ("the log ends with a CUDA out-of-memory error" if oom
              else f"the trainer's process ended short of max_iters ({ending})" if ending
              else "the log ends with a Python traceback")
    return _alert(
        s, spend, "TrainingCrashed", f"Run {s.run} crashed" + (" (CUDA out of memory)" if oom else ""),
        f"Run {s.run} stopped at iteration {_iteration(s)}: {reason} and no progress since (ETA was {_eta(s)}). "
        "Check first: the last lines of the log. After an OOM, lower batch_size (raise "
        "gradient_accumulation_steps to keep the tokens per iteration) or block_size, then resume from the "
        "last checkpoint (init_from='resume').", (("cause", "error"),))


def crashed_silent(s: RunSnapshot, recent: Recent, now: float, spend: Spend | None) -> Active | None:
    """Short of max_iters, no progress for 15 min and no line of any kind meanwhile."""
    silent = _silence(s, now)
    if (silent is None or silent <= SILENT_CRASH_SECONDS or s.state in ENDED or s.iteration is None
            or not s.max_iterations or s.iteration >= s.max_iterations
            or recent.log_silent_seconds(now) < SILENT_CRASH_SECONDS):
        return None
    return _alert(
        s, spend, "TrainingCrashed", f"Run {s.run} went silent before max_iters: the trainer has probably died",
        f"Run {s.run} has written nothing at all for {duration(silent)}, at iteration {s.iteration} of "
        f"{s.max_iterations} (ETA was {_eta(s)}). Check first: is the trainer process still there (ps)? If not, "
        "look for the kernel's OOM killer (dmesg | grep -i oom) or a closed terminal, then resume from the last "
        "checkpoint.", (("cause", "silent"),))


def loss_not_finite(s: RunSnapshot, recent: Recent, now: float, spend: Spend | None) -> Active | None:
    """The latest training loss is nan/inf, or a nan/inf loss (eval too) in the last 10 min."""
    nan_crash = s.state == "crashed" and not any(s.errors.values())
    if not nan_crash and not recent.nonfinite_rose_within(NONFINITE_WINDOW_SECONDS, now):
        return None
    return _alert(
        s, spend, "TrainingLossNotFinite", f"Run {s.run} logged a nan/inf loss",
        f"Run {s.run} has logged {s.nonfinite_losses} nan/inf loss value(s), latest iteration {_iteration(s)} "
        f"(ETA {_eta(s)}). The run is usually ruined from here on. Check first: the learning rate and warm-up, "
        "and fp16 without a loss scaler (prefer bf16); resume from the last checkpoint with a lower learning rate.")


def finished(s: RunSnapshot, spend: Spend | None) -> Active | None:
    if s.state != "finished":
        return None
    val = s.eval_losses.get("val")
    return _alert(
        s, spend, "TrainingFinished", f"Run {s.run} finished",
        f"Run {s.run} reached iteration {_iteration(s)}. Final val loss "
        f"{'not logged' if val is None else f'{val:.4f}'}, wall time "
        f"{'unknown' if s.elapsed_seconds is None else duration(s.elapsed_seconds)}, energy "
        f"{'not measured' if spend is None else two_places(kwh(spend.joules)) + ' kWh'}, cost {_cost(spend)}. "
        "Nothing to fix: the last checkpoint is in the trainer's out_dir.")


def log_unreadable(s: RunSnapshot) -> Active | None:
    if s.log_problem is None:
        return None
    return Active(
        "TrainingLogUnreadable", (), f"Run {s.run}: the exporter cannot read the training log",
        f"The log of run {s.run} ({s.log_path}) exists but the exporter cannot read it, so nothing about this "
        f"run can be watched: {s.log_problem}")


def run_alerts(s: RunSnapshot, recent: Recent, now: float, spend: Spend | None) -> list[Active]:
    """The training alerts whose conditions hold at ``now``."""
    found = (stalled(s, now, spend), crashed(s, spend), crashed_silent(s, recent, now, spend),
             loss_not_finite(s, recent, now, spend), finished(s, spend), log_unreadable(s))
    return [alert for alert in found if alert is not None]
