"""The operations alerts of ``prometheus/rules/operations-alerts.yml``, evaluated on the exporter's own
figures: a slowdown with its cause, a checkpoint disk that will fill, a cost budget crossed. The
same conditions, labels and fields as the rules."""

from __future__ import annotations

from dataclasses import dataclass

from exporter.alerts.run_rules import Spend, _alert, two_places
from exporter.alerts.alert import Active
from exporter.health.checkpoint_disk import CheckpointStatus
from exporter.health.slowdown import SLOW_SECONDS, eta_cost_seconds
from exporter.health.slowdown_cause import UNKNOWN, WORKLOAD, WHY, describe
from exporter.run import RunSnapshot

ENDED = frozenset({"finished", "crashed", "interrupted"})
GIB = 2**30
CHECK_FIRST = {
    "thermal": "fans and airflow (case side panel, dust, a blocked intake) and the room temperature; a lower "
               "power limit (nvidia-smi -pl) runs much cooler for little speed.",
    "hw_slowdown": "the power supply and the GPU's power cables (one cable per 8-pin, 12VHPWR fully seated), "
                   "then temperatures.",
    "power_cap": "the GPU's power limit (nvidia-smi -q -d POWER): was it lowered, or is the power budget shared?",
    "other_process": "nvidia-smi lists the processes on the GPU: stop the one that is not the trainer (a "
                     "notebook, an eval job, a second run).",
    "low_utilization": "the data loader (num_workers, pinned memory, a dataset on a slow or network disk) and the "
                       "CPU (top: another job on the machine).",
    UNKNOWN: "the GPU's clocks, utilisation and processes (nvidia-smi) and other jobs on the machine: this "
             "exporter reads no GPU of the run.",
}


@dataclass(frozen=True)
class Operations:
    """What these alerts read besides the snapshot: the slowdown's cause as the serve loop found it
    (None while the step time is not slow) and the checkpoint directory's status."""

    slowdown_cause: str | None = None
    checkpoint: CheckpointStatus | None = None


def iterations_left(s: RunSnapshot) -> int | None:
    return None if s.iteration is None or not s.max_iterations else max(s.max_iterations - s.iteration, 0)


def slowdown_text(s: RunSnapshot, cause: str | None) -> str | None:
    """The sentence under the iteration time while the step time is slow (any duration)."""
    view = s.slowdown
    if cause is None or view.ratio is None or view.baseline_seconds is None or view.slow_level_seconds is None:
        return None
    return describe(view.ratio, view.baseline_seconds, view.slow_level_seconds, view.slow_for_seconds,
                    view.slow_since_iteration, cause, eta_cost_seconds(view, iterations_left(s)))


def slowdown(s: RunSnapshot, cause: str | None, spend: Spend | None) -> Active | None:
    """Slow for 5 minutes of training time, for a cause that is not the trainer's own work; not
    while the run is stalled (TrainingStalled is the news then) or over."""
    text = slowdown_text(s, cause)
    if text is None or cause == WORKLOAD or s.state in ENDED or s.state == "stalled" \
            or s.slowdown.slow_for_seconds < SLOW_SECONDS:
        return None
    return _alert(s, spend, "TrainingSlowdown",
                  f"Run {s.run} is {(s.slowdown.ratio - 1) * 100:.0f} % slower than its baseline: {WHY[cause]}",
                  f"{text} Check first: {CHECK_FIRST[cause]}", (("cause", cause),))


def checkpoint_disk(s: RunSnapshot, status: CheckpointStatus | None, spend: Spend | None) -> Active | None:
    """A save still to come will not fit in the free space of the checkpoint directory."""
    if status is None or not status.will_fill or s.state in ENDED:
        return None
    fit, size = status.saves_fit, (status.disk.latest_bytes or 0) / GIB
    first = "the next save will fail" if fit == 0 else f"only {fit} more save{'s' if fit != 1 else ''} fit"
    return _alert(
        s, spend, "CheckpointDiskWillFill", f"Run {s.run}: the checkpoint disk fills before the run ends ({first})",
        f"The checkpoint directory {status.path} of run {s.run} has {status.disk.free_bytes / GIB:.1f} GiB free; "
        f"a checkpoint takes {size:.2f} GiB and {status.saves_to_come} save(s) are still to come, so {first}. "
        "Check first: free space on that disk (old checkpoints, other runs' out_dir, datasets), or point the "
        "trainer's out_dir at a larger disk before the next eval.",
        (("next_save", "fails" if fit == 0 else "fits"),))


def over_budget(s: RunSnapshot, spend: Spend | None) -> Active | None:
    """The cost so far (page), else the cost projected at the finish (warning), above --budget."""
    if spend is None or spend.budget is None or s.state in ENDED:
        return None
    budget = f"{two_places(spend.budget)} {spend.currency}"
    if spend.cost > spend.budget:
        return _alert(s, spend, "TrainingOverBudget", f"Run {s.run} has spent more than its budget of {budget}",
                      f"Run {s.run} has cost {two_places(spend.cost)} {spend.currency} in electricity so far, over its "
                      f"budget of {budget}. Check first: whether the run is worth finishing; stop it (the last "
                      "checkpoint is kept) or raise --budget.", (("basis", "spent"),))
    if spend.projected_cost is None or spend.projected_cost <= spend.budget:
        return None
    return _alert(s, spend, "TrainingOverBudget", f"Run {s.run} will cost more than its budget of {budget}",
                  f"Run {s.run} will cost about {two_places(spend.projected_cost)} {spend.currency} at the finish "
                  f"at its recent power and ETA, over its budget of {budget} (spent so far: "
                  f"{two_places(spend.cost)} {spend.currency}). Check first: a slowdown or throttling that stretches "
                  "the ETA; else stop early at a good checkpoint or raise --budget.", (("basis", "projected"),))


def operations_alerts(s: RunSnapshot, operations: Operations, spend: Spend | None) -> list[Active]:
    found = (slowdown(s, operations.slowdown_cause, spend), checkpoint_disk(s, operations.checkpoint, spend),
             over_budget(s, spend))
    return [alert for alert in found if alert is not None]
