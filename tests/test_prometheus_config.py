"""prometheus/: promtool and amtool accept the shipped configs, the rule unit tests pass, and the rules
keep to the README's metric contract. Skips only when promtool / amtool are not installed (CI installs
the Debian packages prometheus and prometheus-alertmanager)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import PROMETHEUS_DIR as CONFIG
from conftest import ROOT, RULE_FILES, load_rules

TEST_FILES = sorted((CONFIG / "tests").glob("*.yml"))
SEVERITIES = {"critical", "warning", "info"}
# The alerts issue 5 asks for, by the names the rules use.
REQUIRED_ALERTS = {
    "TrainingStalled", "TrainingCrashed", "TrainingLossNotFinite", "GpuMemoryNearlyFull",
    "GpuThermalThrottling", "GpuHardwareSlowdown", "GpuLost", "TrainingExporterDown",
    "TrainingLogUnreadable", "TrainingLogMissing", "TrainingFinished", "EtaSlipping",
}
# Every alerting rule per file, in order: (alert, severity, cause label, `for:`; None fires at the
# first evaluation). The durations are the ones README's Alerts table promises.
ALERTS = {
    "gpu-alerts.yml": [
        ("GpuMemoryNearlyFull", "warning", None, "5m"),
        ("GpuThermalThrottling", "warning", None, "2m"),
        ("GpuHardwareSlowdown", "warning", None, "2m"),
        ("GpuLost", "critical", None, "1m"),
    ],
    "operations-alerts.yml": [
        ("TrainingSlowdown", "warning", None, None),
        ("TrainingSlowdown", "info", "unknown", None),
        ("CheckpointDiskWillFill", "warning", None, None),
        ("CheckpointDiskWillFill", "critical", None, None),
        ("TrainingOverBudget", "warning", None, "10m"),
        ("TrainingOverBudget", "critical", None, "1m"),
    ],
    "learning.yml": [
        ("TrainingLossSpike", "warning", None, None),
        ("TrainingGradNormSpike", "info", None, None),
        ("TrainingDiverging", "warning", None, "1m"),
        ("TrainingOverfitting", "info", None, None),
    ],
    "recording.yml": [],
    "run-totals.yml": [],
    "training-alerts.yml": [
        ("TrainingStalled", "critical", None, "1m"),
        ("TrainingCrashed", "critical", "error", "30s"),
        ("TrainingCrashed", "critical", "silent", "1m"),
        ("TrainingLossNotFinite", "critical", None, None),
        ("EtaSlipping", "info", None, "15m"),
        ("TrainingFinished", "info", None, None),
        ("TrainingExporterDown", "critical", None, "2m"),
        ("TrainingLogUnreadable", "warning", None, "2m"),
        ("TrainingLogMissing", "warning", None, "10m"),
    ],
}
# The recorded series the dashboard and the alerts read.
RECORDS = [
    "run:training_electricity_cost_per_hour:rate5m",
    "run:training_tokens_processed:rate5m", "run:training_iteration:rate1h",
    "run:training_seconds_since_progress", "run:training_progress_timeout:ratio",
    "gpu:training_gpu_memory_used:ratio", "gpu:training_gpu_temperature_headroom_celsius",
    "instance:training_gpu_power_watts:sum", "instance:training_gpu_utilization_ratio:avg",
    # run-totals.yml: a run across its nodes
    "node:training_energy_joules:last", "node:training_electricity_cost:last",
    "run:training_energy_joules:sum", "run:training_electricity_cost:sum", "run:training_power_watts:sum",
    "run:training_nodes:count", "run:training_gpus:count", "run:training_gpu_throttled_seconds:rate5m",
    "run:training_progress_ratio:max", "run:training_eta_seconds:max",
    "run:training_energy_projected_joules:sum", "run:training_electricity_cost_projected:sum",
    "run:training_plan_energy_joules:sum",
    "run:training_energy_kwh:total", "run:training_energy_projected_kwh:total", "run:training_plan_energy_kwh:total",
    # training-alerts.yml: whether an exporter's runs had all ended when it was last scraped
    "instance:training_runs_ended:last",
]
# What Prometheus scrapes in the compose stack (service name:port) and where it sends alerts.
SCRAPE_TARGETS = {
    "training-exporter": ["exporter:9842"],
    "prometheus": ["prometheus:9090"],
    "alertmanager": ["alertmanager:9093"],
}


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (Debian: apt-get install prometheus prometheus-alertmanager)")
    return path


def _run(*command: str | Path, cwd: Path = ROOT) -> str:
    result = subprocess.run([str(c) for c in command], cwd=cwd, capture_output=True, text=True, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(map(str, command))} failed:\n{output}"
    return output


def _alert_rules() -> list[dict]:
    return [rule for rule in load_rules() if "alert" in rule]


def _rules_found(output: str) -> dict[str, int]:
    """promtool's "Checking <file>" / "SUCCESS: N rules found" pairs, by file name."""
    found = re.findall(r"^Checking (\S+)\n\s+SUCCESS: (\d+) rules found$", output, re.MULTILINE)
    return {Path(path).name: int(count) for path, count in found}


def _expected_rule_counts() -> dict[str, int]:
    return {path.name: len(load_rules([path])) for path in RULE_FILES}


def test_shipped_rules_are_the_documented_alerts_and_recordings():
    assert sorted(path.name for path in RULE_FILES) == sorted(ALERTS)
    for path in RULE_FILES:
        rules = load_rules([path])
        alerts = [(r["alert"], r["labels"]["severity"], r["labels"].get("cause"), r.get("for"))
                  for r in rules if "alert" in r]
        assert alerts == ALERTS[path.name], path.name
    assert [r["record"] for r in load_rules() if "record" in r] == RECORDS
    assert all(("alert" in r) != ("record" in r) for r in load_rules())
    assert _expected_rule_counts() == {"gpu-alerts.yml": 4, "learning.yml": 4, "operations-alerts.yml": 6,
                                       "recording.yml": 9, "run-totals.yml": 16, "training-alerts.yml": 10}


def test_promtool_check_config():
    output = _run(_tool("promtool"), "check", "config", CONFIG / "prometheus.yml")
    # The rule files are found through the relative glob, as in the container.
    for path in RULE_FILES:
        assert path.name in output
    assert f"SUCCESS: {len(RULE_FILES)} rule files found" in output
    assert "is valid prometheus config file syntax" in output
    assert _rules_found(output) == _expected_rule_counts()

    config = yaml.safe_load((CONFIG / "prometheus.yml").read_text())
    assert config["rule_files"] == ["rules/*.yml"]
    targets = {job["job_name"]: [t for sc in job["static_configs"] for t in sc["targets"]]
               for job in config["scrape_configs"]}
    assert targets == SCRAPE_TARGETS
    assert [job["job_name"] for job in config["scrape_configs"]] == list(SCRAPE_TARGETS)
    assert config["alerting"]["alertmanagers"] == [{"static_configs": [{"targets": ["alertmanager:9093"]}]}]
    assert config["global"]["scrape_interval"] == config["global"]["evaluation_interval"] == "15s"


def test_promtool_check_rules():
    output = _run(_tool("promtool"), "check", "rules", *RULE_FILES)
    assert _rules_found(output) == _expected_rule_counts()
    assert "FAILED" not in output and "WARNING" not in output


def test_promtool_rule_unit_tests():
    # Every rule file has its unit tests (training-stalled.test.yml adds the stall's edge cases).
    assert {path.name for path in TEST_FILES} >= {path.name.replace(".yml", ".test.yml") for path in RULE_FILES}
    output = _run(_tool("promtool"), "test", "rules", *TEST_FILES, cwd=CONFIG / "tests")
    assert output.count("SUCCESS") == len(TEST_FILES)
    results = {Path(path).name: result
               for path, result in re.findall(r"^Unit Testing:\s+(\S+)\n\s+(\w+)$", output, re.MULTILINE)}
    assert results == {path.name: "SUCCESS" for path in TEST_FILES}
    assert "FAILED" not in output


def test_amtool_check_config_finds_receivers_inhibitions_and_templates(tmp_path):
    from test_alertmanager_receivers import written_config

    output = _run(_tool("amtool"), "check-config", written_config(tmp_path, slack_webhook_url="https://x/y"))
    assert "2 receivers" in output
    assert "9 inhibit rules" in output
    assert "1 templates" in output


def _notification(status: str, labels: dict, annotations: dict) -> dict:
    """Alertmanager's template data (alertmanager/template.Data) for one alert."""
    ends_at = "2025-03-04T05:36:07Z" if status == "resolved" else "0001-01-01T00:00:00Z"
    return {
        "receiver": "slack", "status": status, "externalURL": "http://alertmanager:9093",
        "groupLabels": {"alertname": labels["alertname"]}, "commonLabels": labels, "commonAnnotations": {},
        "alerts": [{"status": status, "labels": labels, "annotations": annotations,
                    "startsAt": "2025-03-04T05:06:07Z", "endsAt": ends_at, "generatorURL": "", "fingerprint": "1"}],
    }


_STALLED_LABELS = {"alertname": "TrainingStalled", "severity": "critical", "run": "gpt2 small"}
_STALLED_ANNOTATIONS = {
    "summary": "Run gpt2 small has printed no progress for 5m 0s", "description": "Check first: the trainer.",
    "iteration": "1300 / 20000", "eta": "1h 2m", "cost": "1.23 EUR",
}
NOTIFICATIONS = {
    "stalled": _notification("firing", _STALLED_LABELS, _STALLED_ANNOTATIONS),
    "stalled-resolved": _notification("resolved", _STALLED_LABELS, _STALLED_ANNOTATIONS),
    "gpu-warning": _notification(
        "firing", {"alertname": "GpuThermalThrottling", "severity": "warning", "gpu": "1"},
        {"summary": "GPU 1 is slowing down for heat (88 °C)", "description": "Check first: fans.",
         "gpu_name": "NVIDIA GeForce RTX 4090", "run": "gpt2 small"}),
    "gpu-warning-node": _notification(
        "firing", {"alertname": "GpuThermalThrottling", "severity": "warning", "gpu": "1", "node": "node-2"},
        {"summary": "GPU 1 is slowing down for heat (88 °C)", "description": "Check first: fans."}),
    "finished": _notification(
        "firing", {"alertname": "TrainingFinished", "severity": "info", "run": "gpt2 small"},
        {"summary": "Run gpt2 small finished", "description": "Nothing to fix.", "iteration": "20000 / 20000"}),
}
DASHBOARD = "http://localhost:3000/d/training-exporter"


def _expected_annotations(test_name: str) -> dict:
    """The annotations a promtool case in prometheus/tests/ expects the rule to write."""
    (group,) = [group for path in TEST_FILES for group in yaml.safe_load(path.read_text())["tests"]
                if group.get("name") == test_name]
    alert = next(alert for case in group["alert_rule_test"] for alert in case.get("exp_alerts", []))
    return {name: str(text) for name, text in alert["exp_annotations"].items()}


NOTIFICATIONS["finished-small"] = _notification(
    "firing", {"alertname": "TrainingFinished", "severity": "info", "run": "tiny"},
    _expected_annotations("a small finished run keeps two significant digits of its energy and cost, never 0.00"))


@pytest.mark.parametrize(("notification", "definition", "expected"), [
    ("stalled", "training.slack.title", "CRITICAL: TrainingStalled · run gpt2 small"),
    ("stalled", "training.slack.color", "danger"),
    ("stalled", "training.dashboard_url", f"{DASHBOARD}?var-run=gpt2+small"),
    ("stalled", "training.slack.text",
     "*Run gpt2 small has printed no progress for 5m 0s*\n"
     "Check first: the trainer.\n"
     "• Iteration: 1300 / 20000\n"
     "• ETA: 1h 2m\n"
     "• Cost so far: 1.23 EUR\n"
     "• Since: 2025-03-04 05:06 UTC\n"
     f"<{DASHBOARD}?var-run=gpt2+small|Open the dashboard>"),
    # Resolved: no stale iteration, ETA or cost.
    ("stalled-resolved", "training.slack.title", "RESOLVED: TrainingStalled · run gpt2 small"),
    ("stalled-resolved", "training.slack.color", "good"),
    ("stalled-resolved", "training.slack.text",
     "*Resolved:* Run gpt2 small has printed no progress for 5m 0s\n"
     "• Since: 2025-03-04 05:06 UTC, resolved 05:36 UTC\n"
     f"<{DASHBOARD}?var-run=gpt2+small|Open the dashboard>"),
    # A GPU alert has no run label: the run and the GPU's name come from its annotations.
    ("gpu-warning", "training.slack.title", "WARNING: GpuThermalThrottling · GPU 1"),
    ("gpu-warning", "training.slack.color", "warning"),
    # on a run with several nodes: which node's GPU
    ("gpu-warning-node", "training.slack.title", "WARNING: GpuThermalThrottling · GPU 1 on node-2"),
    ("gpu-warning", "training.dashboard_url", DASHBOARD),
    ("gpu-warning", "training.slack.text",
     "*GPU 1 is slowing down for heat (88 °C)*\n"
     "Check first: fans.\n"
     "• Run: gpt2 small\n"
     "• GPU: NVIDIA GeForce RTX 4090\n"
     "• Since: 2025-03-04 05:06 UTC\n"
     f"<{DASHBOARD}|Open the dashboard>"),
    ("finished", "training.slack.title", "INFO: TrainingFinished · run gpt2 small"),
    ("finished", "training.slack.color", "#439FE0"),
    # A small run's energy and cost as the rule writes them: two significant digits, not 0.00.
    ("finished-small", "training.slack.text",
     "*Run tiny finished*\n"
     "Run tiny reached iteration 200. Final val loss not logged, wall time 1m 35s, energy 0.0031 kWh, cost "
     "0.00047 USD. Nothing to fix: the last checkpoint is in the trainer's out_dir; stop the stack when done.\n"
     "• Iteration: 200\n"
     "• ETA: unknown\n"
     "• Cost so far: 0.00047 USD\n"
     "• Since: 2025-03-04 05:06 UTC\n"
     f"<{DASHBOARD}?var-run=tiny|Open the dashboard>"),
])
def test_slack_templates_render(notification, definition, expected, tmp_path):
    data = tmp_path / "data.json"
    data.write_text(json.dumps(NOTIFICATIONS[notification]))
    output = _run(
        _tool("amtool"), "template", "render", f"--template.glob={CONFIG / 'templates' / '*.tmpl'}",
        f"--template.data={data}", f"--template.text={{{{ template \"{definition}\" . }}}}",
    )
    assert output.strip()
    assert output.strip() == expected


def test_every_required_alert_exists_with_severity_summary_and_description():
    rules = _alert_rules()
    assert {rule["alert"] for rule in rules} >= REQUIRED_ALERTS
    for rule in rules:
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        assert rule["annotations"]["summary"].strip(), rule["alert"]
        assert "\n" not in rule["annotations"]["summary"], f"{rule['alert']}: summary must be one line"
        assert "Check first" in rule["annotations"]["description"] or rule["alert"] == "TrainingFinished", rule["alert"]


def test_every_alert_has_a_firing_unit_test():
    fired = set()
    for path in TEST_FILES:
        for group in yaml.safe_load(path.read_text())["tests"]:
            for case in group.get("alert_rule_test", []):
                if case.get("exp_alerts"):
                    fired.add(case["alertname"])
    assert {rule["alert"] for rule in _alert_rules()} <= fired


def test_alertmanager_routes_every_severity_and_silences_stalls_after_finish():
    config = yaml.safe_load((CONFIG / "alertmanager.yml").read_text())
    routed = {m for route in config["route"]["routes"] for m in route["matchers"] if m.startswith("severity=")}
    assert routed == {f'severity="{s}"' for s in SEVERITIES}
    assert any(route["matchers"] == ['alertname=~"TrainingCrashed|TrainingLossNotFinite"']
               for route in config["route"]["routes"])
    # one cause, one message: a slowdown silences the slipping ETA of its run, a spent budget its projection
    inhibits = {(tuple(r["source_matchers"]), tuple(r["target_matchers"]), tuple(r["equal"])) for r in config["inhibit_rules"]}
    assert (('alertname="TrainingSlowdown"',), ('alertname="EtaSlipping"',), ("job", "instance", "run")) in inhibits
    assert (('alertname="TrainingOverBudget"', 'basis="spent"'), ('alertname="TrainingOverBudget"', 'basis="projected"'),
            ("run",)) in inhibits
    # the budget's projection is said once, on the route without "resolved" or repeats
    (once,) = [r for r in config["route"]["routes"] if 'alertname="TrainingOverBudget"' in r["matchers"]]
    assert once["matchers"] == ['alertname="TrainingOverBudget"', 'basis="projected"']
    assert once["receiver"] == "team-once" and once["repeat_interval"] == "168h"
    finished = [r for r in config["inhibit_rules"] if r["source_matchers"] == ['alertname="TrainingFinished"']]
    assert finished and "TrainingStalled" in finished[0]["target_matchers"][0]
    for receiver in config["receivers"]:
        for slack in receiver["slack_configs"]:
            assert "api_url" not in slack, "the webhook URL is a secret: api_url_file only"
            assert slack["api_url_file"] == "/etc/alertmanager/secrets/slack_webhook_url"


def test_the_end_of_a_run_is_said_once_without_a_resolved_message(local_stack):
    """A run's end (a crash, a nan loss, a finish) ends as an alert when its exporter has been gone
    10 minutes: no "resolved" then, and no repeat within those 10 minutes."""
    config = yaml.safe_load((CONFIG / "alertmanager.yml").read_text())
    receivers = {r["name"]: r["slack_configs"][0]["send_resolved"] for r in config["receivers"]}
    ending, critical, info = config["route"]["routes"][0], config["route"]["routes"][1], config["route"]["routes"][3]
    assert ending["matchers"] == ['alertname=~"TrainingCrashed|TrainingLossNotFinite"']
    assert receivers[ending["receiver"]] is False and receivers[info["receiver"]] is False
    assert receivers[critical["receiver"]] is True
    assert ending["group_wait"] == critical["group_wait"] and ending["repeat_interval"] == critical["repeat_interval"]
    assert local_stack.parse_duration(ending["repeat_interval"]) > 10 * 60


def _readme_metric_names() -> set[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Metrics"):]
    return set(re.findall(r"`(training_[a-z0-9_]+)", section))


def test_rules_use_only_metrics_from_the_readme_contract():
    documented = _readme_metric_names()
    # Series names outside recording-rule names (level:metric:operation).
    pattern = re.compile(r"(?<![:\w])(training_[a-z0-9_]+)(?![:\w])")
    used = set()
    for path in RULE_FILES:
        used.update(pattern.findall(path.read_text()))
    assert used, "no training_* series found in the rules"
    assert used <= documented, f"not in README's Metrics section: {sorted(used - documented)}"


def test_local_stack_generated_configs_are_valid(tmp_path, local_stack):
    promtool, amtool = _tool("promtool"), _tool("amtool")
    stack = local_stack.LocalStack(
        exporter_port=19842, workdir=tmp_path, prometheus_port=19090, alertmanager_port=19093,
        slack_url_file=tmp_path / "webhook", scrape_interval="1s", for_cap="2s",
        group_wait="1s", group_interval="1s",
    )
    prometheus_yml = stack.write_prometheus_config()
    alertmanager_yml = stack.write_alertmanager_config()
    _run(promtool, "check", "config", prometheus_yml)
    _run(amtool, "check-config", alertmanager_yml)

    prometheus = yaml.safe_load(prometheus_yml.read_text())
    targets = {job["job_name"]: job["static_configs"][0]["targets"] for job in prometheus["scrape_configs"]}
    assert targets == {"training-exporter": ["127.0.0.1:19842"], "prometheus": ["127.0.0.1:19090"],
                       "alertmanager": ["127.0.0.1:19093"]}
    assert prometheus["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["127.0.0.1:19093"]
    assert prometheus["global"]["scrape_interval"] == "1s"
    copied_rules = [rule for path in prometheus["rule_files"]
                    for group in yaml.safe_load(Path(path).read_text())["groups"] for rule in group["rules"]]
    assert len(copied_rules) == len(load_rules())
    assert all(local_stack.parse_duration(rule.get("for", "0s")) <= 2 for rule in copied_rules)

    alertmanager = yaml.safe_load(alertmanager_yml.read_text())
    assert alertmanager["route"]["group_wait"] == "1s"
    assert all("group_wait" not in route for route in alertmanager["route"]["routes"])
    assert {s["api_url_file"] for r in alertmanager["receivers"] for s in r["slack_configs"]} == {str(tmp_path / "webhook")}
    # The shipped files are untouched.
    assert "exporter:9842" in (CONFIG / "prometheus.yml").read_text()


def test_local_stack_without_alertmanager_drops_alerting(tmp_path, local_stack):
    _tool("promtool")
    stack = local_stack.LocalStack(exporter_port=19842, workdir=tmp_path, alertmanager=False)
    prometheus = yaml.safe_load(stack.write_prometheus_config().read_text())
    assert "alerting" not in prometheus
    assert {job["job_name"] for job in prometheus["scrape_configs"]} == {"training-exporter", "prometheus"}
    _run(shutil.which("promtool"), "check", "config", tmp_path / "prometheus.yml")


def test_local_stack_reads_the_node_lists_kept_in_the_repository(tmp_path, local_stack):
    config_dir = tmp_path / "config"
    shutil.copytree(CONFIG, config_dir)
    (config_dir / "targets" / "nodes.json").write_text(json.dumps([{"targets": ["192.0.2.7:9842"]}]))
    stack = local_stack.LocalStack(exporter_port=19842, workdir=tmp_path / "work", alertmanager=False,
                                   config_dir=config_dir)
    (tmp_path / "work").mkdir()
    prometheus = yaml.safe_load(stack.write_prometheus_config().read_text())
    (job,) = [job for job in prometheus["scrape_configs"] if job["job_name"] == "training-exporter"]
    files = [pattern for sd in job["file_sd_configs"] for pattern in sd["files"]]
    assert str(config_dir / "targets" / "*.json") in files and "targets/*.json" in files


def test_alertmanager_keeps_notifications_longer_than_any_repeat_interval_in_both_stacks(tmp_path, local_stack):
    """A notification log shorter than the info route's 168h repeat interval would forget that a
    finished run was announced, and announce it again."""
    retention = local_stack.compose_flag("alertmanager", "data.retention")
    route = yaml.safe_load((CONFIG / "alertmanager.yml").read_text())["route"]
    repeats = [route["repeat_interval"], *(child["repeat_interval"] for child in route["routes"])]
    assert local_stack.parse_duration(retention) > max(map(local_stack.parse_duration, repeats))
    stack = local_stack.LocalStack(exporter_port=19842, workdir=tmp_path)
    assert f"--data.retention={retention}" in stack.alertmanager_command()


# --- beyond one machine: file_sd for the other nodes, commented remote_write and federation -------

EXAMPLE_BLOCK = re.compile(r"^ *# ---- (\S+) example .*?\n(.*?)^ *# ---- end of \1 example ----$", re.M | re.S)


def uncommented(text: str, names: set[str]) -> str:
    """prometheus.yml with the named commented examples switched on."""
    def uncomment(match: re.Match) -> str:
        if match.group(1) not in names:
            return match.group(0)
        return re.sub(r"^( *)# ?", r"\1", match.group(2), flags=re.M)
    return EXAMPLE_BLOCK.sub(uncomment, text)


def _check_config_copy(tmp_path: Path, text: str) -> dict:
    """promtool check config on ``text`` next to a copy of the rules; the parsed config."""
    shutil.copytree(CONFIG / "rules", tmp_path / "rules")
    path = tmp_path / "prometheus.yml"
    path.write_text(text)
    _run(_tool("promtool"), "check", "config", path)
    return yaml.safe_load(text)


def test_the_examples_are_all_there_and_valid_once_uncommented(tmp_path):
    text = (CONFIG / "prometheus.yml").read_text()
    names = [match.group(1) for match in EXAMPLE_BLOCK.finditer(text)]
    assert names == ["external_labels", "secured", "federation", "remote_write"]
    config = _check_config_copy(tmp_path, uncommented(text, set(names)))
    assert config["global"]["external_labels"] == {"lab": "lab-a"}
    (remote,) = config["remote_write"]
    assert remote["url"] == "http://victoriametrics:8428/api/v1/write"
    (keep,) = remote["write_relabel_configs"]
    for name in ("training_energy_joules_total", "run:training_energy_joules:sum", "up"):
        assert re.fullmatch(keep["regex"], name), name
    assert not re.fullmatch(keep["regex"], "prometheus_tsdb_head_series")
    (federate,) = [job for job in config["scrape_configs"] if job.get("metrics_path") == "/federate"]
    assert federate["honor_labels"] is True
    matchers = federate["params"]["match[]"]
    assert any("run:" in m for m in matchers) and any("training_info" in m for m in matchers)
    secured = config["scrape_configs"][0]
    assert secured["scheme"] == "https" and secured["basic_auth"]["password_file"].startswith("secrets/exporter/")
    # Unchanged otherwise: the commented file and the uncommented one differ only in the examples.
    shipped = yaml.safe_load(uncommented(text, {"secured"}))
    assert [job for job in config["scrape_configs"] if job is not federate] == shipped["scrape_configs"]


@pytest.mark.parametrize("url", ["http://mimir:8080/api/v1/push", "http://thanos-receive:19291/api/v1/receive"])
def test_each_remote_write_alternative_is_a_valid_url_line(tmp_path, url):
    text = uncommented((CONFIG / "prometheus.yml").read_text(), {"remote_write"})
    alternative = re.search(rf"^( *)# url: {re.escape(url)} .*$", text, re.M)
    assert alternative, f"{url} is not offered in the remote_write example"
    text = re.sub(r"^( *)- url: \S+", rf"\1- url: {url}", text, flags=re.M)
    assert _check_config_copy(tmp_path, text)["remote_write"][0]["url"] == url


def test_other_nodes_come_from_file_sd_and_the_example_lists_targets_only():
    config = yaml.safe_load((CONFIG / "prometheus.yml").read_text())
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == "training-exporter"]
    assert job["file_sd_configs"] == [{"files": ["targets/*.json"]}]
    example = CONFIG / "targets" / "nodes.json.example"
    groups = json.loads(example.read_text())
    assert groups and all(set(group) <= {"targets", "labels"} for group in groups)
    for group in groups:
        assert all(re.fullmatch(r"[\w.-]+:9842", target) for target in group["targets"])
        # node and run come from each exporter; a label set here would rename the exporter's own
        assert not set(group.get("labels", {})) & {"node", "run", "instance", "job"}
    # the copy a user makes is theirs, not the repository's
    ignored = subprocess.run(["git", "check-ignore", "-q", "prometheus/targets/nodes.json"], cwd=ROOT)
    assert ignored.returncode == 0


def test_runs_default_grace_period_is_worked_out_from_the_shipped_rules(local_stack):
    """`training-exporter run` serves /metrics long enough after the trainer ends for the shipped
    Prometheus to fire the alert of the end while the exporter still answers: a scrape that sees
    the end, an evaluation, the longest `for:` of those alerts and a scrape to spare."""
    from exporter.commands.run import DEFAULT_GRACE_SECONDS, ENDING_ALERTS, SHIPPED_SCRAPE_SECONDS

    shipped = yaml.safe_load((CONFIG / "prometheus.yml").read_text())["global"]
    scrape, evaluation = (local_stack.parse_duration(shipped[key]) for key in ("scrape_interval", "evaluation_interval"))
    longest = max(local_stack.parse_duration(rule.get("for", "0s")) for rule in _alert_rules()
                  if rule["alert"] in ENDING_ALERTS and rule["labels"].get("cause") != "silent")
    assert SHIPPED_SCRAPE_SECONDS == scrape == evaluation
    assert DEFAULT_GRACE_SECONDS == 2 * scrape + evaluation + longest == 75
