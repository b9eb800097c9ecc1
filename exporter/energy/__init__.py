"""The run's energy: an account kept across restarts, and the service that owns it."""

from exporter.energy.account import EnergyAccount
from exporter.energy.service import LIVE_STATES, EnergyFigures, EnergySettings, RunEnergy, projected_joules

__all__ = ["LIVE_STATES", "EnergyAccount", "EnergyFigures", "EnergySettings", "RunEnergy", "projected_joules"]
