"""Generated logs with a learning event injected at a known iteration, replayed live: the exporter's
own engine raises the right alert (and only it) within its stated bound, with the Slack text
asserted; promtool, given the series the exporter exposed meanwhile, agrees at every stable
evaluation time, texts included. Healthy generated logs raise none."""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import subprocess
import sys

import pytest
import yaml

import learning_logs as logs
from conftest import PROMETHEUS_DIR, ROOT
from exporter.commands.cli import main
from exporter.notify.messages import text
from learning_promtool import LEARNING_ALERTS, rule_test, stable_times
from learning_replay import replay

sys.path.insert(0, str(ROOT / "benchmarks"))
import health_replay  # noqa: E402

EVENT_SECONDS = logs.EVENT_AT * logs.STEP_SECONDS  # seconds from the start to the injected event
# scenario -> (log lines, the alerts it must raise, the latest time each may fire, seconds after the event)
SCENARIOS = {
    "healthy": (lambda: logs.nanogpt("healthy"), {}),
    "spike_recovers": (lambda: logs.nanogpt("spike_recovers"), {}),
    # not back 10 iterations later (2 s here), seen at the next tick of 5 s
    "spike_sustained": (lambda: logs.nanogpt("spike_sustained"), {"TrainingLossSpike": 10 * logs.STEP_SECONDS + 5}),
    # within 7 segments of 128 logged losses (the trend window, 6 of them, and one to close), then for: 1 min
    "drift": (lambda: logs.nanogpt("drift"), {"TrainingDiverging": 7 * 128 * logs.STEP_SECONDS + 60 + 5}),
    "flat": (lambda: logs.nanogpt("flat"), {"TrainingLossSpike": 10 * logs.STEP_SECONDS + 5,
                                            "TrainingDiverging": 7 * 128 * logs.STEP_SECONDS + 60 + 5}),
    # the third eval in a row worse than the best (evals every 250 iterations)
    "overfitting": (lambda: logs.nanogpt("overfitting"), {"TrainingOverfitting": 3 * 250 * logs.STEP_SECONDS + 5}),
    "grad_norm_spike": (lambda: logs.llmc("grad_norm_spike"), {"TrainingGradNormSpike": 10 * logs.STEP_SECONDS + 5}),
    "grad_norm_healthy": (lambda: logs.llmc("healthy"), {}),
}
_replays = {}


def _replay(name):
    if name not in _replays:
        _replays[name] = replay(SCENARIOS[name][0]())
    return _replays[name]


@pytest.mark.parametrize("name", SCENARIOS)
def test_the_injected_event_raises_its_alert_within_the_bound_and_nothing_else(name):
    result, expected = _replay(name), SCENARIOS[name][1]
    raised = {alert: at - result.start - EVENT_SECONDS for alert, at in result.first_fired.items()}
    assert sorted(raised) == sorted(expected)
    for alert, bound in expected.items():
        assert 0 <= raised[alert] <= bound, (alert, raised[alert], bound)


def test_the_slack_message_of_a_spike_that_has_not_come_back():
    heard = _replay("spike_sustained").heard
    assert heard.said() == [("firing", "TrainingLossSpike")]
    assert text(heard.notifications[0], "link").splitlines()[:5] == [
        "*Run gpt: the training loss spiked and has not come back*",
        "Run gpt has had 1 loss spike(s); the latest began at iteration 1500 and reached 3.0x its rolling median "
        "(1.654). Check first: the learning rate (too high, or too short a warm-up), fp16 overflow, a bad stretch of "
        "data (the same iterations each time?); resuming from the checkpoint before the spike with a lower learning "
        "rate or gradient clipping (grad_clip) usually helps.",
        "• Iteration: 1525 / 5000", "• ETA: 12 min", "• Cost so far: not measured"]


def test_the_slack_message_of_a_drift_names_its_window_and_slope():
    heard = _replay("drift").heard
    assert heard.said() == [("firing", "TrainingDiverging")]
    assert text(heard.notifications[0], "link").splitlines()[:3] == [
        "*Run gpt: the loss is rising*",
        "The training loss of run gpt changed by +25 % over the last 640 iterations (slope +0.00119 per iteration) "
        "and is 48 % above its best. The run is not learning: stop it rather than pay for the rest. Check first: the "
        "learning rate and its schedule, a resume from the wrong checkpoint or with a reset optimizer, the data (a "
        "shard repeated or corrupt); resume from the best checkpoint with a lower learning rate.",
        "• Iteration: 2300 / 5000"]


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed (Debian package prometheus)")
def test_promtool_and_the_exporters_engine_give_the_same_verdicts_and_texts(tmp_path):
    tests = []
    for name in SCENARIOS:
        result = _replay(name)
        times = stable_times(result)
        picked = sorted({times[0], *times[len(times) // 3::len(times) // 3 or 1]} | {
            at for at in times if any(a["name"] in LEARNING_ALERTS for a in result.firing[at])})[:12]
        tests.append(rule_test(name, result, picked))
    fired = {case["alertname"] for group in tests for case in group["alert_rule_test"] if case["exp_alerts"]}
    assert fired == set(LEARNING_ALERTS)
    path = tmp_path / "learning.test.yml"
    path.write_text(yaml.safe_dump({"rule_files": [str(PROMETHEUS_DIR / "rules" / "learning.yml")],
                                    "evaluation_interval": "15s", "tests": tests}, width=1000))
    if os.environ.get("UPDATE_LEARNING_TEST"):  # the copy kept in prometheus/tests/, which CI runs too
        (PROMETHEUS_DIR / "tests" / "learning.test.yml").write_text(
            "# Written by tests/test_learning_alerts.py (UPDATE_LEARNING_TEST=1): the series the exporter exposed\n"
            "# while generated logs with a learning event were replayed, and what its own engine said at each time.\n"
            + yaml.safe_dump({"rule_files": ["../rules/learning.yml"], "evaluation_interval": "15s",
                              "tests": tests}, width=1000))
    done = subprocess.run(["promtool", "test", "rules", str(path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_the_repositorys_fixture_logs_of_every_format_replayed_live_raise_no_learning_alert(tmp_path):
    verdicts = health_replay.fixture_logs(tmp_path)
    assert len(verdicts) == 10
    assert {v.name: v.learning for v in verdicts} == {v.name: [] for v in verdicts}
    assert {v.name: v.spikes for v in verdicts} == {v.name: 0 for v in verdicts}


def test_a_noisy_healthy_run_with_bad_batches_and_a_fast_warm_up_raises_nothing():
    rng = random.Random(7)
    lines = []
    for i in range(5001):
        level = 1.45 + 2.8 * math.exp(-i / 250) + 0.3 * math.exp(-i / 2000)
        loss = level * (1 + rng.gauss(0, 0.05)) * (1.3 if rng.random() < 0.004 else 1)  # now and then a bad batch
        lines.append((f"iter {i}: loss {loss:.4f}, time 30.00ms, mfu 10.00%", None))
    assert health_replay.replay("noisy", lines, seconds_per_line=0.05).raised == {}


def test_status_says_what_the_detectors_saw(tmp_path, capsys):
    log = tmp_path / "train.log"
    log.write_text("".join(line + "\n" for line, _ in logs.nanogpt("drift")))
    assert main(["status", str(log)]) == 0
    text = capsys.readouterr().out
    assert "diverging: the loss changed by +" in text and "per iteration), rising" in text
    log.write_text("".join(line + "\n" for line, _ in logs.nanogpt("spike_recovers")))
    assert main(["status", str(log), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["learning"]["loss"]["spikes"] == 1 and report["learning"]["loss"]["last"]["iteration"] == 1500
    log.write_text("".join(line + "\n" for line, _ in logs.nanogpt("spike_recovers")) + "iter 2401: loss nan, time 200.00ms, mfu 30.00%\n")
    assert main(["status", str(log)]) == 4  # a nan loss: crashed
    assert "loss spikes: 2 (latest at iteration 2,401, nan/inf, not back yet)" in capsys.readouterr().out
