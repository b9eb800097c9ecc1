"""Every metric the collectors export is documented in README's metric table, and back."""

import os
import re
import tempfile
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from exporter.alerts import AlertEngine
from exporter.collectors.alerts import AlertsCollector
from exporter.collectors.base import CollectorStats, SnapshotCollectors
from exporter.collectors.exporter_self import ExporterCollector
from exporter.collectors.checkpoint import CheckpointCollector
from exporter.collectors.health import SlowdownCollector
from exporter.commands.config import Config
from exporter.health.slowdown import SlowdownView
from exporter.run_set.checkpoints import CheckpointProbe
from test_energy_collector import account_at_200_watts, energy_collector, running_snapshot
from test_training_collector import exposition

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text()
METRICS = README[README.index("## Metrics"):README.index("## Performance")]
DOCUMENTED = set(re.findall(r"^\| `([a-z_]+)[{`]", METRICS, re.MULTILINE))


def exported_names(text):
    names = set()
    for family in text_string_to_metric_families(text):
        names |= {sample.name for sample in family.samples}
    return names


class Delivered:
    """A notifier with a destination of each kind: the Slack webhook file and a notify-file line."""

    def counts(self):
        return {"slack-webhook-file": (1, 0), "discord#1": (2, 1)}


def all_exported():
    golden = REPO / "tests" / "golden"
    text = (golden / "training.prom").read_text() + (golden / "gpu.prom").read_text()
    stats = CollectorStats()
    config = Config(carbon_g_per_kwh=400.0, budget=25.0)
    text += exposition(energy_collector(account_at_200_watts(), running_snapshot, config, stats))
    slow = running_snapshot(slowdown=SlowdownView(0.17, 0.24, 400.0, 1000), evals_left=30, checkpoints=3)
    with tempfile.TemporaryDirectory() as out:
        with open(os.path.join(out, "ckpt.pt"), "wb") as checkpoint:
            checkpoint.truncate(2**40)  # sparse: larger than the free space, so the saves that fit show
        collectors = [SlowdownCollector(stats, lambda: "thermal"), CheckpointCollector(stats, CheckpointProbe(out))]
        text += exposition(SnapshotCollectors(lambda: slow, collectors, stats))
    text += exposition(AlertsCollector(AlertEngine(notifier=Delivered()), stats))
    text += exposition(ExporterCollector(stats, auth_failures=lambda: 0))
    return exported_names(text)


def test_every_exported_metric_is_documented():
    undocumented = sorted(all_exported() - DOCUMENTED)
    assert not undocumented, f"add these to README's Metrics tables: {undocumented}"


def test_every_documented_metric_is_exported_by_the_code():
    source = "\n".join(p.read_text() for p in (REPO / "exporter").rglob("*.py"))
    missing = sorted(name for name in DOCUMENTED if name.removesuffix("_total") not in source)
    assert len(DOCUMENTED) > 60
    assert not missing, f"documented but not in the exporter's code: {missing}"
