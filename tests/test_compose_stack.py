"""`docker compose up` of the repository's own compose files, with Docker: the exporter built from
exporter/Dockerfile is healthy and runs as uid 10001, Prometheus scrapes it with every rule loaded,
a CUDA OOM appended to the log reaches a Slack stand-in on the compose network through
Alertmanager (webhook file in secrets/alertmanager/), the energy survives `docker compose restart
exporter`, the log is mounted read-only and the state volume is writable, only Grafana is published
beyond 127.0.0.1, and a node stack (docker-compose.node.yml) on the same machine is scraped by the
head's Prometheus through file_sd.

The images are the real ones where Docker has them or can pull them; without a registry
scripts/stand_in_images.sh builds stand-ins from Debian packages under the same names, and the
test prints which is which. Grafana has no Debian package: without its real image it is left out.
No GPU: the stack runs without docker-compose.gpu.yml. Skipped only where Docker is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

import pytest
import requests
import yaml

from compose_project import ROOT, ComposeProject, docker_missing, free_port, wait_for
from conftest import load_rules, write_log
from nanogpt_fixture import preamble, progress_lines

RUN = "compose-stack"
WEBHOOK = "http://slack-sink:8080/services/T0STACK/B0STACK/compose"
OOM = ["Traceback (most recent call last):", '  File "train.py", line 310, in <module>',
       "    scaler.scale(loss).backward()",
       "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB."]
SINK_ADD_ON = """services:
  slack-sink:
    image: {image}
    command: ["python3", "/sink/compose_slack_sink.py"]
    user: "65534"
    volumes: ["./slack-sink:/sink:ro"]
    ports: ["127.0.0.1:${{SLACK_SINK_PORT}}:8080"]
"""

MISSING = docker_missing()
pytestmark = pytest.mark.skipif(MISSING is not None, reason=f"{MISSING}")


def _say(request, line: str) -> None:
    """One line on the terminal even while pytest captures output (the images used, the timings)."""
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(f"\n[compose stack] {line}", end="", flush=True)


def _images(request) -> set[str]:
    """Makes sure every image is there (real or stand-in); the images Docker has afterwards."""
    started = time.monotonic()
    result = subprocess.run(["sh", "scripts/stand_in_images.sh"], cwd=ROOT, capture_output=True, text=True,
                            timeout=1800)
    for line in result.stdout.splitlines():
        _say(request, line)
    _say(request, f"images ready in {time.monotonic() - started:.0f} s")
    assert result.returncode == 0, f"an image is missing:\n{result.stdout}{result.stderr}"
    return {line.split(": ", 1)[0] for line in result.stdout.splitlines() if "left out" not in line}


def _base_image() -> str:
    return next(line[5:].strip() for line in (ROOT / "exporter/Dockerfile").read_text().splitlines()
                if line.startswith("FROM "))


def _image(service: str) -> str:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"][service]["image"]


def _webhook_file(project: ComposeProject) -> None:
    """secrets/alertmanager/slack_webhook_url as README.md says: 0600, owned by nobody (65534)."""
    path = project.directory / "secrets/alertmanager/slack_webhook_url"
    path.write_text(WEBHOOK)
    path.chmod(0o600)
    if os.geteuid() == 0:
        os.chown(path, 65534, 65534)
    else:  # only root can give it away; readable by all instead, so that nobody reads it
        path.chmod(0o644)


@pytest.fixture(scope="module")
def stack(request, tmp_path_factory):
    available = _images(request)
    directory = tmp_path_factory.mktemp("compose-stack")
    logs = directory / "logs"
    logs.mkdir(mode=0o755)
    log = write_log(logs / "train.log", preamble() + progress_lines(0, 300))
    log.chmod(0o644)
    ports = {name: str(free_port()) for name in ("EXPORTER_PORT", "PROMETHEUS_PORT", "ALERTMANAGER_PORT",
                                                "GRAFANA_PORT", "SLACK_SINK_PORT")}
    project = ComposeProject(directory / "head", {
        "TRAIN_LOG_DIR": str(logs), "TRAIN_LOG_FILE": "train.log", "RUN_NAME": RUN, "OTHER_WATTS": "100",
        "COMPOSE_PROJECT_NAME": f"te-stack-{os.getpid()}", **ports,
        "COMPOSE_FILE": "docker-compose.yml:docker-compose.slack-sink.yml"})
    (project.directory / "docker-compose.slack-sink.yml").write_text(SINK_ADD_ON.format(image=_base_image()))
    (project.directory / "slack-sink").mkdir()
    shutil.copy(ROOT / "tests/compose_slack_sink.py", project.directory / "slack-sink")
    _webhook_file(project)
    grafana = "grafana" if _image("grafana") in available else None
    services = ["exporter", "prometheus", "alertmanager", "slack-sink", *([grafana] if grafana else [])]
    _say(request, f"{' '.join(project.command)}; services {', '.join(services)}"
                  f"{'' if grafana else ' (Grafana left out: no image)'}; no GPU (docker-compose.gpu.yml left out)")
    started = time.monotonic()
    try:
        project.compose("up", "-d", "--build", *services)
        _say(request, f"up -d --build took {time.monotonic() - started:.0f} s")
        yield Stack(project, log, {k: int(v) for k, v in ports.items()}, bool(grafana))
    finally:
        project.down()
        _say(request, f"stack up and down in {time.monotonic() - started:.0f} s")


class Stack:
    def __init__(self, project: ComposeProject, log, ports: dict[str, int], grafana: bool) -> None:
        self.project, self.log, self.ports, self.grafana = project, log, ports, grafana

    def get(self, port: str, path: str):
        return requests.get(f"http://127.0.0.1:{self.ports[port]}{path}", timeout=5)

    def prometheus(self, path: str) -> dict:
        return self.get("PROMETHEUS_PORT", path).json()["data"]

    def energy(self) -> float | None:
        for line in self.get("EXPORTER_PORT", "/metrics").text.splitlines():
            if line.startswith("training_energy_joules_total{") and f'run="{RUN}"' in line:
                return float(line.rsplit(" ", 1)[1])
        return None

    def diagnostics(self) -> str:
        return self.project.logs()


def test_the_exporter_is_healthy_by_its_own_check_and_runs_as_uid_10001(stack):
    stack.project.wait_healthy("exporter", timeout=120)
    status = stack.project.exec("exporter", "cat", "/proc/1/status").stdout
    uids = next(line.split()[1:] for line in status.splitlines() if line.startswith("Uid:"))
    assert uids == ["10001"] * 4, status
    assert stack.project.inspect("exporter")["Config"]["User"] == "exporter"


def test_prometheus_scrapes_the_exporter_and_loaded_every_rule(stack):
    def exporter_up():
        targets = stack.prometheus("/api/v1/targets")["activeTargets"]
        return [t for t in targets if t["labels"]["job"] == "training-exporter" and t["health"] == "up"]

    (target,) = wait_for("Prometheus scraping the exporter", exporter_up, 90, stack.diagnostics)
    assert target["scrapeUrl"] == "http://exporter:9842/metrics"

    wanted = sorted(rule.get("alert") or rule["record"] for rule in load_rules())

    def rules_evaluated():
        rules = [r for g in stack.prometheus("/api/v1/rules")["groups"] for r in g["rules"]]
        return rules if all(r["health"] == "ok" for r in rules) else None

    rules = wait_for("every rule evaluated without error", rules_evaluated, 60, stack.diagnostics)
    assert sorted(r["name"] for r in rules) == wanted
    managers = stack.prometheus("/api/v1/alertmanagers")["activeAlertmanagers"]
    assert [m["url"] for m in managers] == ["http://alertmanager:9093/api/v2/alerts"]


def test_the_energy_is_kept_across_docker_compose_restart_exporter(stack):
    before = wait_for("energy counted from OTHER_WATTS", lambda: (stack.energy() or 0) > 100 and stack.energy(),
                      60, stack.diagnostics)
    stack.project.compose("restart", "exporter")
    after = wait_for("the exporter answering after its restart", stack.energy, 60, stack.diagnostics)
    assert after >= before, f"energy went from {before} J to {after} J across the restart"
    assert f"resuming run '{RUN}'" in stack.project.logs("exporter")


def test_the_log_is_mounted_read_only_and_the_state_volume_is_writable(stack):
    mounts = {m["Destination"]: m for m in stack.project.inspect("exporter")["Mounts"]}
    assert mounts["/logs"]["Type"] == "bind" and mounts["/logs"]["RW"] is False
    assert mounts["/var/lib/training-exporter"]["Type"] == "volume" and mounts["/var/lib/training-exporter"]["RW"]
    as_root = stack.project.exec("exporter", "touch", "/logs/written-by-root", user="0")
    assert as_root.returncode != 0 and "Read-only file system" in as_root.stderr
    as_exporter = stack.project.exec("exporter", "sh", "-c", "touch /var/lib/training-exporter/probe && "
                                     "rm /var/lib/training-exporter/probe && ls /var/lib/training-exporter")
    assert as_exporter.returncode == 0, as_exporter.stderr
    assert "state.json" in as_exporter.stdout.split()


def _listening_ports(stack, service: str) -> set[int]:
    tables = stack.project.exec(service, "cat", "/proc/net/tcp", "/proc/net/tcp6").stdout
    return {int(fields[1].rsplit(":", 1)[1], 16) for fields in map(str.split, tables.splitlines()[1:])
            if len(fields) > 3 and fields[3] == "0A"}


def _host_address(port) -> str:
    """The host address of a port as `config` prints it: v1 ``0.0.0.0:3000:3000/tcp``, v2 a mapping."""
    return port.get("host_ip", "0.0.0.0") if isinstance(port, dict) else port.rsplit(":", 2)[0]


def test_only_grafana_is_published_beyond_localhost_and_alertmanager_has_no_gossip_port(stack):
    containers = stack.project.containers()
    assert {"exporter", "prometheus", "alertmanager"} <= set(containers)
    for service, details in containers.items():
        bindings = [b for published in (details["NetworkSettings"]["Ports"] or {}).values() for b in published or []]
        addresses = {b["HostIp"] for b in bindings}
        wanted = {"0.0.0.0"} if service == "grafana" else {"127.0.0.1"}
        assert addresses <= wanted and bindings, f"{service} is published on {addresses}"
    grafana = yaml.safe_load(stack.project.compose("config").stdout)["services"]["grafana"]
    assert [_host_address(port) for port in grafana["ports"]] == ["0.0.0.0"], "Grafana, for the wall screen"
    assert 9093 in _listening_ports(stack, "alertmanager") and 9094 not in _listening_ports(stack, "alertmanager")


def test_the_head_prometheus_scrapes_a_node_stack_through_file_sd(stack, tmp_path_factory):
    network = stack.project.inspect("prometheus")["NetworkSettings"]["Networks"]
    gateway = next(iter(network.values()))["Gateway"]  # this machine, as the head's containers reach it
    port = free_port()
    node = ComposeProject(tmp_path_factory.mktemp("compose-node") / "node", {
        "RUN_NAME": RUN, "NODE_NAME": "node-2", "EXPORTER_BIND": gateway, "EXPORTER_PORT": str(port),
        "OTHER_WATTS": "50", "COMPOSE_PROJECT_NAME": f"te-node-{os.getpid()}",
        "COMPOSE_FILE": "docker-compose.node.yml"})
    try:
        node.compose("up", "-d")
        targets = stack.project.directory / "prometheus/targets/nodes.json"
        targets.write_text(json.dumps([{"targets": [f"{gateway}:{port}"]}]))
        targets.chmod(0o644)

        def two_nodes():
            result = stack.prometheus(f'/api/v1/query?query=run:training_nodes:count{{run="{RUN}"}}')["result"]
            return result and result[0]["value"][1] == "2"

        wait_for("the head's run:training_nodes:count at 2", two_nodes, 120, lambda: stack.diagnostics() + node.logs())
        up = stack.prometheus(f'/api/v1/query?query=up{{instance="{gateway}:{port}"}}')["result"]
        assert up[0]["value"][1] == "1" and up[0]["metric"]["job"] == "training-exporter"
        node.wait_healthy("exporter", timeout=90)
    finally:
        node.down()


def test_grafana_answers_where_its_image_is_there(stack):
    if not stack.grafana:
        pytest.skip(f"{_image('grafana')} is not here and cannot be pulled; Grafana has no Debian stand-in")
    health = wait_for("Grafana's /api/health", lambda: stack.get("GRAFANA_PORT", "/api/health").ok and
                      stack.get("GRAFANA_PORT", "/api/health").json(), 120, stack.diagnostics)
    assert health["database"] == "ok"


def test_a_cuda_oom_in_the_log_reaches_the_slack_sink_through_alertmanager(stack):
    write_log(stack.log, OOM, append=True)

    def crashed_message():
        messages = stack.get("SLACK_SINK_PORT", "/messages").json()
        return [m for m in messages if "TrainingCrashed" in m["json"]["attachments"][0]["title"]]

    (message,) = wait_for("the TrainingCrashed message at the Slack sink", crashed_message, 180,
                          stack.diagnostics)
    attachment = message["json"]["attachments"][0]
    assert message["path"] == "/services/T0STACK/B0STACK/compose"
    assert attachment["title"] == f"CRITICAL: TrainingCrashed · run {RUN}"
    assert f"Run {RUN} crashed (CUDA out of memory)" in attachment["text"]
