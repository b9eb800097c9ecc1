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


def _series(expositions, repeat=1):
    """promtool input series of the exposition at every tick, each scraped ``repeat`` times (``_``
    where a sample is absent)."""
    values: dict[str, list[str]] = {}
    for index, families in enumerate(expositions):
        for family in families:
            for sample in family.samples:
                labels = ",".join(f'{k}="{v}"' for k, v in sorted({**sample.labels, **TARGET}.items()))
                row = values.setdefault(f"{sample.name}{{{labels}}}", ["_"] * len(expositions) * repeat)
                row[index * repeat:(index + 1) * repeat] = [repr(sample.value)] * repeat
    return [{"series": name, "values": " ".join(row)} for name, row in values.items()]


def _promtool(tmp_path, expositions, cases, rules=(), interval="15s", repeat=1):
    """promtool on ``expositions`` (each scraped ``repeat`` times, one scrape and evaluation every
    ``interval``) expecting ``cases``."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian: apt-get install prometheus)")
    test = {"rule_files": [str(_rules_without_annotations(tmp_path)), *map(str, rules)], "evaluation_interval": interval,
            "tests": [{"interval": interval, "input_series": _series(expositions, repeat), "alert_rule_test": cases}]}
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


def test_promtool_and_the_engine_cross_the_budget_at_the_same_ticks(tmp_path):
    """A 400 W run at 0.50 EUR/kWh (0.20 EUR an hour) with 8 h to go and a budget of 2.00 EUR:
    the projection crosses it after about 2 h, the cost so far after 10 h."""
    from dataclasses import replace

    from exporter.alerts.engine import AlertEngine
    from exporter.alerts.runs import spend_of
    from exporter.collectors.base import CollectorStats, Labelled
    from exporter.collectors.energy import EnergyCollector
    from exporter.collectors.training import TrainingCollector
    from exporter.energy import EnergyAccount, EnergySettings, RunEnergy
    from exporter.run import RunSnapshot
    from test_alerts_engine import Heard

    settings = EnergySettings(price_per_kwh=0.5, currency="EUR", budget=2.0)
    energy = RunEnergy(settings, EnergyAccount("gpt2", window_seconds=300, tariff=(0.5, "EUR")))
    heard, stats = Heard(), CollectorStats()
    engine = AlertEngine(notifier=heard, spend_of=spend_of(energy))
    run = RunSnapshot(run="gpt2", format="nanogpt", log_path="train.log", state="running", iteration=1)
    collectors = (TrainingCollector(stats), Labelled(EnergyCollector(energy, stats), {"node": "head"}))
    expositions, step = [], 900  # a tick every 15 min of the run
    for index in range(48):
        now = T0 + index * step
        snapshot = replace(run, eta_seconds=max(8 * 3600 - index * step, 0) + 3600.0)
        energy.tick(snapshot, {"GPU-0": 400.0 * index * step}, now)
        engine.tick(snapshot, (), now)
        expositions.append([f for c in collectors for f in c.collect(snapshot)])
    fired = [n for n in heard.notifications if n.status == "firing"]
    assert [n.alert.label("basis") for n in fired] == ["projected", "spent"]
    # Prometheus scrapes and evaluates each minute what the ticks (every 15 min) showed: checked at
    # the ticks, the rules' for: of 10 min and 1 min have passed at the next one, as the engine's
    # have. Prometheus keeps the projection firing beside the spent budget, which Alertmanager's
    # inhibition (and the engine) leave unsaid
    cases = []
    for index in sorted({int((n.at - T0) / step) + d for n in fired for d in (-1, 0)} | {len(expositions) - 1}):
        active = [n.alert for n in fired if (n.at - T0) / step <= index]
        cases.append({"eval_time": f"{index * 15}m", "alertname": "TrainingOverBudget", "exp_alerts": [
            {"exp_labels": {"severity": a.severity, **dict(a.labels), "run": "gpt2", "currency": "EUR"}}
            for a in active]})
    _promtool(tmp_path, expositions, cases, rules=(RULES.parent / "run-totals.yml",), interval="1m", repeat=15)
