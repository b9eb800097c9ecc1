"""A generated log replayed live, line by line, at its own arrival times: the run model, the
exporter's alert engine ticked every 5 s, and the training collector scraped every 15 s as
Prometheus would (series as promtool's input_series)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

from exporter.alerts.engine import AlertEngine
from exporter.alerts.learning_rules import learning_alerts
from exporter.collectors.base import CollectorStats
from exporter.run import RunModel
from test_alerts_engine import Heard
from test_training_collector import exposition, training

TICK_SECONDS, SCRAPE_SECONDS = 5.0, 15.0
LABELS = {"job": "training-exporter", "instance": "exporter:9842"}


@dataclass
class Replay:
    heard: Heard
    firing: dict[float, list] = field(default_factory=dict)  # at each scrape: the engine's firing alerts, inhibited too
    active: dict[float, dict] = field(default_factory=dict)  # at each scrape: the learning alerts that hold, by name
    scrapes: list[dict[str, float]] = field(default_factory=list)  # series -> value, every 15 s
    first_fired: dict[str, float] = field(default_factory=dict)  # alert -> time it first fired
    start: float = 0.0


def _series(text: str) -> dict[str, float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = {**sample.labels, **LABELS}
            found[sample.name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"] = sample.value
    return found


def replay(lines: list[tuple[str, float]], run: str = "gpt", tail_seconds: float = 120.0) -> Replay:
    model = RunModel(run, "/logs/train.log")
    model.log_present = True
    heard = Heard()
    engine = AlertEngine(notifier=heard)
    collector = training(lambda: model.snapshot(now), CollectorStats())
    start = now = lines[0][1]
    result = Replay(heard, start=start)
    pending = list(reversed(lines))
    end = lines[-1][1] + tail_seconds
    tick = 0
    while now <= end:
        while pending and pending[-1][1] <= now:
            line, at = pending.pop()
            model.feed_line(line, at)
        engine.tick(model.snapshot(now), (), now)
        for alert in engine.firing():
            result.first_fired.setdefault(alert["name"], now)
        if tick % round(SCRAPE_SECONDS / TICK_SECONDS) == 0:
            at = len(result.scrapes) * SCRAPE_SECONDS
            result.scrapes.append(_series(exposition(collector)))
            # firing, inhibited ones too: Prometheus fires them, Alertmanager inhibits them
            result.firing[at] = [{"name": t.alert.name, "severity": t.alert.rule.severity}
                                 for t in engine._tracked.values() if t.fired_at is not None]
            result.active[at] = {a.name: a for a in learning_alerts(model.snapshot(now), engine._recent, now, None)}
        tick += 1
        now = start + tick * TICK_SECONDS
    return result
