"""The page's ``health`` part of ``/api/run`` that the slowdown and checkpoint detectors fill: the
line under the iteration time while the step time is slow, and the checkpoint disk's figures."""

from __future__ import annotations

from typing import Any

from exporter.alerts.operations import slowdown_text
from exporter.health.checkpoint_disk import UNBOUNDED, CheckpointStatus
from exporter.run import RunSnapshot


def slowdown_part(s: RunSnapshot, cause: str | None) -> dict[str, str] | None:
    text = slowdown_text(s, cause)
    return None if text is None or cause is None else {"cause": cause, "text": text}


def checkpoint_part(status: CheckpointStatus | None) -> dict[str, Any] | None:
    if status is None:
        return None
    fit = status.saves_fit
    return {"path": status.path, "free_bytes": status.disk.free_bytes, "latest_bytes": status.disk.latest_bytes,
            "saves_to_come": status.saves_to_come, "saves_fit": None if fit is None or fit >= UNBOUNDED else fit,
            "will_fill": status.will_fill}


def health_part(s: RunSnapshot, cause: str | None, checkpoint: CheckpointStatus | None) -> dict[str, Any]:
    return {"slowdown": slowdown_part(s, cause), "checkpoint": checkpoint_part(checkpoint)}
