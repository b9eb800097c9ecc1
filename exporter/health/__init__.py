"""Is the run still learning? Pure detectors of plain numbers, fed by the run model: spikes in a
series (the training loss, the gradient norm), a loss trending up or stuck far above its best,
and a validation loss worse than its best eval after eval."""

from exporter.health.evals import ValWatch
from exporter.health.report import LearningHealth, Spike, SpikeReport, TrendReport
from exporter.health.spikes import SpikeDetector, SpikeSettings
from exporter.health.trend import TrendDetector, TrendSettings

__all__ = ["LearningHealth", "Spike", "SpikeDetector", "SpikeReport", "SpikeSettings", "TrendDetector",
           "TrendReport", "TrendSettings", "ValWatch"]
