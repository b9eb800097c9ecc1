"""One training run: its model built from log events, its settings, timing, outlook and snapshot."""

from exporter.run.model import RunModel
from exporter.run.settings import TrainerSettings
from exporter.run.snapshot import STATES, RunSnapshot
from exporter.run.state import StallTimeouts

__all__ = ["STATES", "RunModel", "RunSnapshot", "StallTimeouts", "TrainerSettings"]
