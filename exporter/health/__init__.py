"""What the exporter learns about a run's health over time: pure detectors of plain numbers, fed by
the run model and the serve loop. Is it still learning: spikes in a series (the training loss, the
gradient norm), a loss trending up or stuck far above its best, a validation loss worse than its
best eval after eval. What is about to hurt it: a step time slower than the run's own baseline
and its likely cause, a checkpoint disk that will fill."""

from exporter.health.evals import ValWatch
from exporter.health.report import LearningHealth, Spike, SpikeReport, TrendReport
from exporter.health.spikes import SpikeDetector, SpikeSettings
from exporter.health.trend import TrendDetector, TrendSettings

__all__ = ["LearningHealth", "Spike", "SpikeDetector", "SpikeReport", "SpikeSettings", "TrendDetector",
           "TrendReport", "TrendSettings", "ValWatch"]
