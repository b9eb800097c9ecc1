"""The alerts the exporter evaluates itself: each rule's name, severity and ``for:`` delay as in
``prometheus/rules/*.yml``, an alert that holds now, and which firing alerts silence others as the
inhibit rules of ``prometheus/alertmanager.yml`` do."""

from __future__ import annotations

from dataclasses import dataclass

CRITICAL, WARNING, INFO = "critical", "warning", "info"


@dataclass(frozen=True)
class Rule:
    name: str
    severity: str
    for_seconds: float


RULES = {rule.name: rule for rule in (
    Rule("TrainingStalled", CRITICAL, 60),
    Rule("TrainingCrashed", CRITICAL, 30),  # cause="error"; the silent crash waits 1 min (SILENT_CRASH_FOR)
    Rule("TrainingLossNotFinite", CRITICAL, 0),
    Rule("TrainingFinished", INFO, 0),
    Rule("TrainingLogUnreadable", WARNING, 120),
    Rule("GpuMemoryNearlyFull", WARNING, 300),
    Rule("GpuThermalThrottling", WARNING, 120),
    Rule("GpuHardwareSlowdown", WARNING, 120),
    Rule("GpuLost", CRITICAL, 60),
    Rule("TrainingSlowdown", WARNING, 0),  # the exporter's own 5 min of slow training time
    Rule("CheckpointDiskWillFill", WARNING, 0),
    Rule("TrainingOverBudget", CRITICAL, 60),
    Rule("TrainingLossSpike", WARNING, 0),
    Rule("TrainingGradNormSpike", INFO, 0),
    Rule("TrainingDiverging", WARNING, 60),
    Rule("TrainingOverfitting", INFO, 0),
)}
# (alert, label, value) -> (severity, for: seconds, sent once: no repeat, no resolution): an alert
# whose labels make it another kind of message than its rule's default
BY_LABEL = {
    ("TrainingSlowdown", "cause", "unknown"): (INFO, 0.0, True),
    ("CheckpointDiskWillFill", "next_save", "fails"): (CRITICAL, 0.0, False),
    ("TrainingOverBudget", "basis", "projected"): (WARNING, 600.0, True),
}
SILENT_CRASH_FOR = 60.0
GPU_WARNINGS = frozenset({"GpuMemoryNearlyFull", "GpuThermalThrottling", "GpuHardwareSlowdown"})


@dataclass(frozen=True)
class Active:
    """An alert whose condition holds now. ``labels`` tell it from others of its name (gpu,
    reason, cause); ``details`` are its message's own lines (run, GPU); ``run_context`` adds the
    iteration, ETA and cost lines of a training alert."""

    name: str
    labels: tuple[tuple[str, str], ...]
    summary: str
    description: str
    details: tuple[tuple[str, str], ...] = ()
    run_context: bool = False

    @property
    def key(self) -> tuple[str, tuple[tuple[str, str], ...]]:
        return self.name, self.labels

    @property
    def rule(self) -> Rule:
        return RULES[self.name]

    @property
    def _by_label(self) -> tuple[str, float, bool] | None:
        return next((kind for (name, label, value), kind in BY_LABEL.items()
                     if name == self.name and self.label(label) == value), None)

    @property
    def severity(self) -> str:
        return self._by_label[0] if self._by_label else self.rule.severity

    @property
    def once(self) -> bool:
        """Sent once: never repeated, its end never announced (info, and a few warnings)."""
        return self._by_label[2] if self._by_label else self.severity == INFO

    @property
    def for_seconds(self) -> float:
        if self._by_label:
            return self._by_label[1]
        return SILENT_CRASH_FOR if self.label("cause") == "silent" else self.rule.for_seconds

    def label(self, name: str) -> str | None:
        return dict(self.labels).get(name)


def silenced(alert: Active, firing: list[Active]) -> bool:
    """Whether a firing alert in ``firing`` silences ``alert`` (its resolution too, as in Alertmanager)."""
    names = {other.name for other in firing}
    gpu = alert.label("gpu")
    same_gpu = {other.name for other in firing if gpu is not None and other.label("gpu") == gpu}
    return (
        (alert.name in ("TrainingStalled", "TrainingCrashed") and "TrainingFinished" in names)
        or (alert.name == "TrainingStalled" and "TrainingCrashed" in names)
        or (alert.name in GPU_WARNINGS and ("TrainingCrashed" in names or "GpuLost" in same_gpu))
        or (alert.name == "GpuHardwareSlowdown" and alert.label("reason") == "hw_slowdown"
            and "GpuThermalThrottling" in same_gpu)
        or (alert.name == "TrainingOverBudget" and alert.label("basis") == "projected"
            and any(other.name == "TrainingOverBudget" and other.label("basis") == "spent" for other in firing))
        or (alert.name == "TrainingLossSpike" and names & {"TrainingDiverging", "TrainingLossNotFinite"})
        or (alert.name == "TrainingGradNormSpike" and names & {"TrainingLossSpike", "TrainingLossNotFinite"})
    )
