"""training-exporter: Prometheus metrics for LLM training runs."""

__version__ = "0.1.0"
