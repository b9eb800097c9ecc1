"""The exporter's own engine and Prometheus reach the same verdicts: a generated run is played
through the exporter (tests/health_scenarios.py), its exposition at each 15 s tick becomes a
promtool test's input series, and promtool, on prometheus/rules/operations-alerts.yml, must fire
exactly where the engine fired (the rules' texts are checked in prometheus/tests/; here only which
alert fires with which labels, so the annotations are left out of the copy promtool reads). The
same for a checkpoint disk that fills (tests/test_checkpoint_disk.py's run)."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from health_scenarios import Scenario, schedule, second_process, thermal, utilisation_falls
from test_checkpoint_disk import SIZE, T0, _play

RULES = Path(__file__).resolve().parent.parent / "prometheus" / "rules" / "operations-alerts.yml"
TARGET = {"job": "training-exporter", "instance": "exporter:9842"}


def _series(expositions):
    """promtool input series of the exposition at every tick (``_`` where a sample is absent)."""
    values: dict[str, list[str]] = {}
    for index, families in enumerate(expositions):
        for family in families:
            for sample in family.samples:
                labels = ",".join(f'{k}="{v}"' for k, v in sorted({**sample.labels, **TARGET}.items()))
                values.setdefault(f"{sample.name}{{{labels}}}", ["_"] * len(expositions))[index] = repr(sample.value)
    return [{"series": name, "values": " ".join(row)} for name, row in values.items()]


def _promtool(tmp_path, expositions, cases):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian: apt-get install prometheus)")
    test = {"rule_files": [str(_rules_without_annotations(tmp_path))], "evaluation_interval": "15s",
            "tests": [{"interval": "15s", "input_series": _series(expositions), "alert_rule_test": cases}]}
    (tmp_path / "parity.test.yml").write_text(yaml.safe_dump(test))
    result = subprocess.run([promtool, "test", "rules", "parity.test.yml"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def _rules_without_annotations(tmp_path):
    rules = yaml.safe_load(RULES.read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump(rules))
    return path


def _engine_firing(scenario, index):
    at = scenario.ticks[index][0]
    return [n.alert for n in scenario.fired() if n.at - 1_800_000_000.0 <= at]


@pytest.mark.parametrize("change", [thermal, second_process, utilisation_falls, schedule], ids=lambda c: c.__name__)
def test_promtool_fires_where_the_engine_fires(change, tmp_path):
    scenario = Scenario(change=change).play()
    fired = scenario.fired()
    first = next((i for i, (at, _, _) in enumerate(scenario.ticks)
                  if fired and 1_800_000_000.0 + at >= fired[0].at), None)
    checks = sorted({len(scenario.ticks) // 2, len(scenario.ticks) - 1} | ({first - 1, first} if first else set()))
    cases = []
    for index in checks:
        expected = [{"exp_labels": {"severity": a.severity, **dict(a.labels), "run": "gpt2", **TARGET}}
                    for a in _engine_firing(scenario, index)]
        cases.append({"eval_time": f"{index * 15}s", "alertname": "TrainingSlowdown", "exp_alerts": expected})
    assert (first is not None) == (change is not schedule)
    _promtool(tmp_path, [families for _, _, families in scenario.ticks], cases)


def test_promtool_warns_and_pages_for_the_checkpoint_disk_where_the_engine_does(tmp_path, monkeypatch):
    expositions = []
    heard, _ = _play(tmp_path, monkeypatch, capacity=int(4.5 * SIZE), expositions=expositions)
    fired = [n for n in heard.notifications if n.status == "firing"]
    assert len(fired) == 2
    cases, ticks = [], {int(n.at - T0) for n in fired}
    for index in sorted(ticks | {t - 1 for t in ticks} | {len(expositions) - 1}):
        # the engine's alerts at tick ``index``: those that fired by then and had not ended
        active = [n.alert for n in heard.notifications if n.at - T0 <= index and n.status == "firing"
                  and not any(r.status == "resolved" and r.alert.key == n.alert.key and r.at - T0 <= index
                              for r in heard.notifications)]
        latest = {alert.key: alert for alert in active}.values()
        cases.append({"eval_time": f"{index * 15}s", "alertname": "CheckpointDiskWillFill", "exp_alerts": [
            {"exp_labels": {"severity": a.severity, **dict(a.labels), "run": "gpt2", **TARGET}} for a in latest]})
    _promtool(tmp_path, expositions, cases)
