"""Prometheus collectors, one per source of data."""
