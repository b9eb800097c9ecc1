"""A run on three nodes, end to end on loopback: three real exporter processes stand for the nodes
(the head node follows the log; node-2 and node-3 report their GPUs only, ``--run`` without
``--log``), each with its own fake NVML library (tests/fake_nvml.py; its energy counter grows at a
set power). A real Prometheus with the project's rules finds the head node's exporter in its
static config and the two others through file_sd_configs, in a targets file made from
prometheus/targets/nodes.json.example. The run's recorded totals add up the nodes, its progress
comes from the head node, every dashboard query returns data for the run and for each node, the
series counts README gives per run, node and GPU are the ones Prometheus holds (and /federate
answers the example job with the count README gives), and a node that goes down keeps its energy
in the run's total.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from contextlib import suppress

import pytest
import requests
import yaml

from conftest import PROMETHEUS_DIR, ROOT
from exporter_process import ExporterProcess
from fake_nvml import FakeGpu, pynvml_source
from nanogpt_fixture import scenario_two
from test_dashboard import all_targets, as_grafana_sends_it, is_gpu_metric, metric_names, variable_values
from test_prometheus_config import uncommented

RUN = "three-nodes"
OTHER_WATTS = 100.0
# Each node's GPUs and the power their energy counters grow at: 700 W, 800 W and 600 W with the
# head node's other_watts, 2100 W in all.
NODES = {
    "head": [300.0, 300.0],
    "node-2": [800.0],
    "node-3": [200.0, 200.0, 200.0],
}
RUN_WATTS = sum(map(sum, NODES.values())) + OTHER_WATTS
# A rule evaluated at time T reads the latest sample each node's series has in storage by then: one
# from a scrape up to two scrape intervals (1 s) before T, and a little slack for storing it.
LAG_SECONDS = 2.5


@pytest.fixture(scope="module", autouse=True)
def _prometheus_installed(local_stack):
    missing = local_stack.missing_binaries(alertmanager=False)
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)} (Debian package prometheus; CI installs it)")


@pytest.fixture(scope="module")
def trainer():
    """A process standing in for the trainer on the head node, so that its run counts energy for
    as long as the test needs (the log itself does not move)."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    yield process
    process.kill()
    process.wait()


def _exporter(work, node: str, *flags: str) -> ExporterProcess:
    shim = work / f"nvml-{node}"
    shim.mkdir()
    gpus = [FakeGpu(uuid=f"GPU-{node}-{index}", energy_watts=watts) for index, watts in enumerate(NODES[node])]
    (shim / "pynvml.py").write_text(pynvml_source(gpus))
    return ExporterProcess("--node", node, "--run", RUN, "--gpu-sample-interval-seconds", "0.2",
                           "--state-file", str(work / f"state-{node}.json"), "--price-per-kwh", "0.30",
                           "--currency", "EUR", *flags, import_first=shim)


def _targets_file(stack_dir, ports: list[int]) -> None:
    """prometheus/targets/nodes.json.example with the nodes' loopback addresses, where the
    generated prometheus.yml's file_sd_configs look (targets/*.json next to it)."""
    (group, *_) = json.loads((PROMETHEUS_DIR / "targets" / "nodes.json.example").read_text())
    group["targets"] = [f"127.0.0.1:{port}" for port in ports]
    (stack_dir / "targets").mkdir(parents=True)
    (stack_dir / "targets" / "nodes.json").write_text(json.dumps([group]))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, local_stack, trainer):
    work = tmp_path_factory.mktemp("multinode")
    log = work / "train.log"
    log.write_text(scenario_two())
    (work / "out").mkdir()  # the run's checkpoint directory, with a checkpoint in it
    (work / "out" / "ckpt.pt").write_bytes(b"\0" * 4096)
    head = _exporter(work, "head", "--log", str(log), "--other-watts", str(OTHER_WATTS),
                     "--trainer-pid", str(trainer.pid), "--checkpoint-dir", str(work / "out"), "--budget", "100")
    others = {node: _exporter(work, node) for node in ("node-2", "node-3")}
    exporters = {"head": head, **others}
    try:
        _targets_file(work / "stack", [exporter.port for exporter in others.values()])
        with local_stack.LocalStack(head.port, work / "stack", alertmanager=False, scrape_interval="1s") as stack:
            try:
                stack.wait_until(lambda: _up(stack) == {e.port: 1.0 for e in exporters.values()}, timeout=30,
                                 what="three exporters scraped")
            except TimeoutError as exc:
                outputs = "\n".join(f"--- {node}:\n{e.output()[-3000:]}" for node, e in exporters.items())
                pytest.fail(f"{exc}\n{outputs}")
            yield stack, exporters
    finally:
        for exporter in exporters.values():
            exporter.stop()


def _up(stack) -> dict[int, float]:
    return {int(s["metric"]["instance"].rpartition(":")[2]): float(s["value"][1])
            for s in stack.query('up{job="training-exporter"}')}


def _at(stack, expr: str, when: float) -> dict[str, float]:
    """``expr`` at time ``when``: value by node (or "" where it has no node label)."""
    return {s["metric"].get("node", ""): float(s["value"][1]) for s in stack.query(expr, time=when)}


def _assert_between(stack, total: float, expr: str, when: float, extra: float = 0.0) -> None:
    """``total`` (recorded at ``when``) is the sum of ``expr``'s growing series plus ``extra``: at
    least their sum a rule evaluation's lag before, at most their sum at ``when``."""
    before = sum(_at(stack, expr, when - LAG_SECONDS).values()) + extra
    after = sum(_at(stack, expr, when).values()) + extra
    assert before - 1e-6 <= total <= after + 1e-6, (before, total, after)


def _recorded(stack, record: str) -> tuple[float, float]:
    """The latest evaluation of a recorded series of the run: (its time, its value)."""
    (sample,) = stack.wait_until(lambda: stack.query(f'{record}{{run="{RUN}"}}'), timeout=30, what=record)
    return float(sample["value"][0]), float(sample["value"][1])


def test_the_run_totals_add_up_every_node_and_progress_comes_from_the_log_node(cluster):
    stack, exporters = cluster
    # the recent mean power settles once each exporter has a few samples of energy
    stack.wait_until(lambda: (v := stack.query_value(f'run:training_power_watts:sum{{run="{RUN}"}}'))
                     and abs(v - RUN_WATTS) < 0.1 * RUN_WATTS, timeout=40, what=f"the run's power near {RUN_WATTS} W")
    # every node's share well above what the run adds in one evaluation's lag, so that a node
    # missing from the total (or counted twice) cannot hide in it
    energy = f'training_energy_joules_total{{run="{RUN}"}}'
    stack.wait_until(lambda: (v := stack.query_value(f"min({energy})")) and v > 2 * LAG_SECONDS * RUN_WATTS,
                     timeout=40, what="every node's energy above the lag's")
    when, total = _recorded(stack, "run:training_energy_joules:sum")
    assert set(_at(stack, energy, when)) == set(NODES)
    _assert_between(stack, total, energy, when)

    when, watts = _recorded(stack, "run:training_power_watts:sum")
    power = _at(stack, f'training_power_watts{{run="{RUN}"}}', when)
    assert watts == pytest.approx(sum(power.values()), rel=0.02)
    assert power["head"] == pytest.approx(sum(NODES["head"]) + OTHER_WATTS, rel=0.1)
    assert power["node-2"] == pytest.approx(sum(NODES["node-2"]), rel=0.1)
    assert power["node-3"] == pytest.approx(sum(NODES["node-3"]), rel=0.1)

    assert _recorded(stack, "run:training_nodes:count")[1] == 3
    assert _recorded(stack, "run:training_gpus:count")[1] == sum(map(len, NODES.values()))
    # progress and ETA: the head node's, the only node that reads the log
    exposition = exporters["head"].scrape()
    assert f'training_progress_ratio{{run="{RUN}"}} 0.065' in exposition
    assert _recorded(stack, "run:training_progress_ratio:max")[1] == pytest.approx(0.065)
    eta = [s for s in stack.query(f'training_eta_seconds{{run="{RUN}"}}')]
    assert len(eta) == 1 and _recorded(stack, "run:training_eta_seconds:max")[1] == float(eta[0]["value"][1])


def test_every_dashboard_query_returns_data_for_the_run_and_for_each_node(cluster, dashboard):
    stack, _ = cluster
    variables = stack.wait_until(lambda: (v := variable_values(stack, dashboard))["gpu"] and v, timeout=30,
                                 what="dashboard variables")
    assert variables["run"] == [RUN]
    assert variables["node"] == sorted(NODES)
    assert variables["gpu"] == ["0", "1", "2"]
    for node, gpus in NODES.items():
        chosen = {"run": [RUN], "node": [node], "gpu": [".*"]}
        queries = [(panel["title"], as_grafana_sends_it(t["expr"], chosen), t["expr"])
                   for panel, t in all_targets(dashboard)]

        def empty() -> list[str]:
            return [f"{title}: {expr}" for title, expr, _ in queries if not stack.query(expr)]

        try:
            stack.wait_until(lambda: not empty(), timeout=30, what=f"every dashboard query with node {node}")
        except TimeoutError:
            pytest.fail(f"no data with node {node} for:\n" + "\n".join(empty()))
        for title, expr, template in queries:
            series = stack.query(expr)
            assert all(s["metric"].get("run", RUN) == RUN for s in series if title != "All runs"), (title, series)
            if any(is_gpu_metric(name) for name in metric_names(template)):
                shown = {(s["metric"]["node"], s["metric"]["gpu"]) for s in series}
                assert {n for n, _ in shown} == {node}, f"{title} with node {node}: {shown}"
                assert {g for _, g in shown} == {str(i) for i in range(len(gpus))}, f"{title}: {shown}"


# Series written by Prometheus rather than scraped: recorded (level:metric:operation) and per target.
FROM_PROMETHEUS = '__name__=~".+:.+|up|scrape_.+"'
FROM_EXPORTER = '__name__!~".+:.+|up|scrape_.+|ALERTS.*"'


def _readme_series_table() -> dict[str, tuple[int, int, int]]:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### How many series a run costs"):readme.index("### Retention")]
    return {label: tuple(map(int, numbers)) for label, *numbers in
            re.findall(r"^\| ([^|]+?) \| (\d+) \| (\d+) \| (\d+) \|$", section, re.M)}


def test_the_readme_series_figures_are_the_measured_ones(cluster):
    """README's "How many series a run costs", counted in the real Prometheus that scrapes the
    three exporters: by node (instance), with or without a run, GPU series by their uuid."""
    stack, exporters = cluster
    head, other, gpus = (f'instance="127.0.0.1:{exporters[n].port}"' for n in ("head", "node-2", "node-3"))

    def count(selector: str) -> int:
        return int(stack.query_value(f"count({{{selector}}})") or 0)

    def split(selector: str, per: int = 1) -> tuple[int, int, int]:
        scraped, written = count(f"{selector}, {FROM_EXPORTER}") // per, count(f"{selector}, {FROM_PROMETHEUS}") // per
        return scraped, written, scraped + written

    def measure() -> dict[str, tuple[int, ...]]:
        # a node's share of the run: its own series of the run, and the per-node readings kept for it
        scraped, written, _ = split(f'{other}, run="{RUN}", uuid=""')
        written += count(f'__name__=~"node:.+", node="node-2", run="{RUN}"')
        # what the head node has besides that: the series of the log
        log_node = [a - b for a, b in zip(split(f'{head}, run="{RUN}", uuid=""'),
                                          split(f'{other}, run="{RUN}", uuid=""'))]
        return {
            "per run, once: its totals": split(f'__name__=~"run:.+", run="{RUN}", instance=""'),
            "per run and node: energy, power, cost": (scraped, written, scraped + written),
            "per run, on the node that follows its log: progress, loss, ETA, tokens, …": tuple(log_node),
            "per GPU, with its share of one run": split(f'{gpus}, uuid!=""', per=len(NODES["node-3"])),
            "per exporter that follows a log": split(f'{head}, run="", uuid=""'),
            "per exporter without a log": split(f'{other}, run="", uuid=""'),
        }

    # the series appear as the rules are evaluated and scrapes come in: compare once they settle
    expected, counts = _readme_series_table(), []
    with suppress(TimeoutError):
        stack.wait_until(lambda: counts.append(measure()) or counts[-1] == expected, timeout=180,
                         what="the README's series counts")
    measured = counts[-1]
    assert measured == expected

    # the README's example: 3 nodes with 8 GPUs, and what it costs in samples
    once, per_node, log, gpu = (measured[k][2] for k in list(measured)[:4])
    total = once + 3 * per_node + log + 24 * gpu + measured["per exporter that follows a log"][2] \
        + 2 * measured["per exporter without a log"][2]
    readme = " ".join((ROOT / "README.md").read_text().split())  # as read, whatever the line breaks
    assert f"= {total} series" in readme and f"{round(total / 15)} samples a second" in readme

    # federation: what /federate answers to the example job's match[] (26 + 3 per node + 1 per GPU)
    config = yaml.safe_load(uncommented((PROMETHEUS_DIR / "prometheus.yml").read_text(), {"federation"}))
    (job,) = [job for job in config["scrape_configs"] if job.get("metrics_path") == "/federate"]
    answer = requests.get(f"{stack.prometheus_url}/federate", params={"match[]": job["params"]["match[]"]},
                          timeout=10).text
    federated = [line for line in answer.splitlines() if line and not line.startswith("#")]
    gpu_count = sum(map(len, NODES.values()))
    assert len(federated) == 26 + 3 * len(NODES) + gpu_count, answer
    assert "26 + 3 per node + 1 per GPU" in readme


def test_a_node_that_goes_down_keeps_its_energy_in_the_run_total(cluster):
    stack, exporters = cluster
    gone = exporters["node-3"]
    gone.stop()
    stack.wait_until(lambda: _up(stack).get(gone.port) == 0.0, timeout=20, what="node-3 scraped as down")
    last = float(stack.query('last_over_time(training_energy_joules_total{node="node-3"}[1m])')[0]["value"][1])
    stack.wait_until(lambda: stack.query_value(f'run:training_nodes:count{{run="{RUN}"}}') == 2, timeout=20,
                     what="two nodes reporting")
    when, total = _recorded(stack, "run:training_energy_joules:sum")
    energy = f'training_energy_joules_total{{run="{RUN}"}}'
    assert set(_at(stack, energy, when)) == {"head", "node-2"}
    # node-3's last reading is kept (the latest one a rule evaluation saw before it went: its last,
    # or the one before, a scrape's worth less)
    (kept,) = _at(stack, f'node:training_energy_joules:last{{run="{RUN}",node="node-3"}}', when).values()
    assert last - LAG_SECONDS * sum(NODES["node-3"]) <= kept <= last
    assert kept > 2 * LAG_SECONDS * RUN_WATTS
    # neither dropped nor doubled: the two that report, plus node-3's kept reading
    _assert_between(stack, total, f'training_energy_joules_total{{run="{RUN}",node!="node-3"}}', when, extra=kept)


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return json.loads((ROOT / "grafana/dashboards/training.json").read_text())

