"""The exporter's own engine and Prometheus reach the same verdicts: a generated run is played
through the exporter (tests/health_scenarios.py), its exposition at each 15 s tick becomes a
promtool test's input series, and promtool, on prometheus/rules/operations-alerts.yml, must fire
exactly where the engine fired (the rules' texts are checked in prometheus/tests/; here only which
alert fires with which labels, so the annotations are left out of the copy promtool reads)."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from health_scenarios import Scenario, schedule, second_process, thermal, utilisation_falls

RULES = Path(__file__).resolve().parent.parent / "prometheus" / "rules" / "operations-alerts.yml"
TARGET = {"job": "training-exporter", "instance": "exporter:9842"}


def _series(scenario):
    """promtool input series of the exposition at every tick (``_`` where a sample is absent)."""
    values: dict[str, list[str]] = {}
    for index, (_, _, families) in enumerate(scenario.ticks):
        for family in families:
            for sample in family.samples:
                labels = ",".join(f'{k}="{v}"' for k, v in sorted({**sample.labels, **TARGET}.items()))
                values.setdefault(f"{sample.name}{{{labels}}}", ["_"] * len(scenario.ticks))[index] = repr(sample.value)
    return [{"series": name, "values": " ".join(row)} for name, row in values.items()]


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
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian: apt-get install prometheus)")
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
    test = {"rule_files": [str(_rules_without_annotations(tmp_path))], "evaluation_interval": "15s",
            "tests": [{"interval": "15s", "input_series": _series(scenario), "alert_rule_test": cases}]}
    (tmp_path / "parity.test.yml").write_text(yaml.safe_dump(test))
    result = subprocess.run([promtool, "test", "rules", "parity.test.yml"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
