"""A shared exposition is the encoder's own output, with a family yielded again encoded once."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics

from exporter.server.expositions import SharedExpositions


class Families:
    """A collector yielding its ``kept`` families (the same objects each time) and a fresh one."""

    def __init__(self) -> None:
        self.scrapes = 0
        self.kept = [GaugeMetricFamily("kept", 'a "quoted" help\\', labels=["gpu"]),
                     CounterMetricFamily("kept_joules", "a counter", labels=["gpu", "method"])]
        self.kept[0].add_metric(["0"], 1.5)
        self.kept[1].add_metric(["0", "counter"], 3)

    def collect(self):
        self.scrapes += 1
        fresh = GaugeMetricFamily("fresh", "new each scrape", labels=["n"])
        fresh.add_metric([f'{self.scrapes}"\n'], self.scrapes)
        return [self.kept[0], fresh, self.kept[1]]


def test_the_exposition_is_the_encoders_own_in_both_formats() -> None:
    registry = CollectorRegistry(auto_describe=False)
    families = Families()
    registry.register(families)
    shared = SharedExpositions(registry)
    for encoder, content_type in ((generate_latest, "text"), (openmetrics, "openmetrics")):
        for _ in range(3):
            body = shared.get(encoder, content_type, gzipped=False)
            families.scrapes -= 1  # the reference sees the same fresh family
            assert body == encoder(registry)
    assert openmetrics(registry).endswith(b"# EOF\n")


def test_a_family_yielded_again_is_encoded_once_and_a_new_one_each_time() -> None:
    registry = CollectorRegistry(auto_describe=False)
    families = Families()
    registry.register(families)
    shared = SharedExpositions(registry)
    encoded = []

    def counting(source) -> bytes:
        encoded.extend(family.name for family in source.collect())
        return generate_latest(source)

    shared.get(counting, "text", gzipped=False)
    assert sorted(encoded) == ["fresh", "kept", "kept_joules"]
    encoded.clear()
    body = shared.get(counting, "text", gzipped=False)
    assert encoded == ["fresh"]
    assert b'fresh{n="2\\"\\n"} 2.0' in body and b'kept{gpu="0"} 1.5' in body
    families.kept[0] = GaugeMetricFamily("kept", "rebuilt", labels=["gpu"])  # a new object: encoded anew
    families.kept[0].add_metric(["0"], 7)
    encoded.clear()
    assert b'kept{gpu="0"} 7.0' in shared.get(counting, "text", gzipped=False)
    assert encoded == ["kept", "fresh"]
