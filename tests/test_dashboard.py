"""grafana/dashboards/training.json: schema, datasources, units, wall-screen layout, and that every
PromQL expression in it returns data from a real Prometheus scraping the real exporter."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time

import pytest
import yaml

from conftest import PROMETHEUS_DIR, ROOT, load_rules
from exporter_process import ExporterProcess
from nanogpt_fixture import scenario_two

DASHBOARD_FILE = ROOT / "grafana/dashboards/training.json"
DATASOURCES_FILE = ROOT / "grafana/provisioning/datasources/datasources.yml"

# Grafana 12.x writes schemaVersion 42, the last version of the classic dashboard JSON model
# (grafana/grafana apps/dashboard/pkg/migration/schemaversion: LATEST_VERSION = 42).
SCHEMA_VERSION = 42

# Grafana's grid: 24 columns; a row unit is 30 px high plus an 8 px gap. In kiosk mode on a
# 1920x1080 screen, 27 units (27 * 30 + 26 * 8 = 1018 px) fit with the page padding.
GRID_COLUMNS = 24
SCREEN_ROWS = 27

# Unit ids from Grafana's value formats (packages/grafana-data/src/valueFormats/categories.ts)
# that this dashboard may use; custom units are "prefix:" / "suffix:" strings.
GRAFANA_UNITS = {
    "none", "short", "percent", "percentunit", "locale", "sci",
    "bytes", "decbytes", "bits",
    "s", "ms", "m", "h", "d", "dtdurations", "dtdurationms", "dthms", "dtdhms", "hertz",
    "dateTimeAsIso", "dateTimeAsIsoNoDateIfToday", "dateTimeAsLocal", "dateTimeAsLocalNoDateIfToday",
    "dateTimeFromNow",
    "watt", "kwatt", "watth", "kwatth", "joule",
    "celsius", "flops", "gflops", "tflops", "pflops",
    "bool", "bool_yes_no", "bool_on_off",
    "currencyUSD", "currencyGBP", "currencyEUR", "currencyJPY", "currencyRUB", "currencyUAH",
    "currencyBRL", "currencyDKK", "currencyISK", "currencyNOK", "currencySEK", "currencyCZK",
    "currencyCHF", "currencyPLN", "currencyZAR", "currencyINR", "currencyKRW", "currencyIDR",
    "currencyPHP", "currencyVND",
}

# Panels that show no query result (no targets, so no unit to set).
PANELS_WITHOUT_QUERIES = {"row", "alertlist", "text"}


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return json.loads(DASHBOARD_FILE.read_text())


@pytest.fixture(scope="module")
def datasources() -> dict[str, dict]:
    provisioned = yaml.safe_load(DATASOURCES_FILE.read_text())["datasources"]
    return {ds["type"]: ds for ds in provisioned}


def all_panels(dashboard: dict) -> list[dict]:
    panels = []
    for panel in dashboard["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", []))  # panels inside collapsed rows
    return panels


def all_targets(dashboard: dict) -> list[tuple[dict, dict]]:
    return [(panel, target) for panel in all_panels(dashboard) for target in panel.get("targets", [])]


# --- schema, datasources, units ------------------------------------------------------------------


def test_is_valid_json_of_the_current_schema_version(dashboard):
    assert dashboard["schemaVersion"] == SCHEMA_VERSION
    assert dashboard["uid"] and dashboard["title"]
    assert dashboard["id"] is None, "exported for sharing: no database id"


def test_panel_ids_are_unique(dashboard):
    ids = [panel["id"] for panel in all_panels(dashboard)]
    assert len(ids) == len(set(ids)), sorted(ids)


def test_datasources_are_provisioned_with_fixed_uids(datasources):
    prometheus, alertmanager = datasources["prometheus"], datasources["alertmanager"]
    assert prometheus["uid"] and prometheus["url"] == "http://prometheus:9090"
    assert alertmanager["uid"] and alertmanager["url"] == "http://alertmanager:9093"
    assert alertmanager["jsonData"]["implementation"] == "prometheus"
    # $__rate_interval is computed from this, so it must be the real scrape interval.
    scrape = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())["global"]["scrape_interval"]
    assert prometheus["jsonData"]["timeInterval"] == scrape


def test_every_query_uses_the_provisioned_prometheus_uid(dashboard, datasources):
    uid = datasources["prometheus"]["uid"]
    targets = all_targets(dashboard)
    assert len(targets) > 30
    for panel, target in targets:
        assert target["datasource"] == {"type": "prometheus", "uid": uid}, panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": uid}, panel["title"]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            assert variable["datasource"] == {"type": "prometheus", "uid": uid}, variable["name"]


def test_alert_list_reads_the_provisioned_prometheus_rules(dashboard, datasources):
    (alerts,) = [p for p in all_panels(dashboard) if p["type"] == "alertlist"]
    assert alerts["options"]["datasource"] == datasources["prometheus"]["name"]
    assert alerts["options"]["stateFilter"]["firing"] is True


def _unit_is_known(unit: str) -> bool:
    return unit in GRAFANA_UNITS or unit.startswith(("suffix:", "prefix:"))


def test_every_panel_with_queries_has_a_known_unit(dashboard):
    for panel in all_panels(dashboard):
        if panel["type"] in PANELS_WITHOUT_QUERIES:
            assert not panel.get("targets"), panel["title"]
            continue
        unit = panel["fieldConfig"]["defaults"].get("unit")
        assert unit and _unit_is_known(unit), f"{panel['title']}: unit {unit!r}"
        for override in panel["fieldConfig"]["overrides"]:
            for prop in override["properties"]:
                if prop["id"] == "unit":
                    assert _unit_is_known(prop["value"]), f"{panel['title']}: override unit {prop['value']!r}"


# Base-unit suffix of a metric name (first match wins) -> the Grafana units that display it.
BASE_UNITS = [
    ("_timestamp_seconds", {"dateTimeAsLocalNoDateIfToday", "dateTimeAsLocal", "dateTimeAsIso", "dateTimeFromNow"}),
    ("_seconds", {"s", "dtdurations"}),
    ("_bytes", {"bytes"}),
    ("_watts", {"watt"}),
    ("_celsius", {"celsius"}),
    ("_ratio", {"percentunit"}),
    ("_hertz", {"hertz"}),
    ("_kwh", {"kwatth"}),
    ("_active", {"bool_on_off", "bool", "bool_yes_no"}),
]


def test_units_match_the_metric_base_units(dashboard):
    """A metric's base unit (its name's suffix) and the unit its field is shown in agree."""
    checked = 0
    for panel, target in all_targets(dashboard):
        names = metric_names(target["expr"])
        if len(names) != 1:
            continue
        # Recorded series (level:metric:operation) read as one name, e.g. gpu_..._used_ratio.
        name = next(iter(names)).replace(":", "_").removesuffix("_total")
        if target["expr"].startswith("rate(") and name.endswith("_seconds"):
            name = name.removesuffix("_seconds") + "_ratio"  # seconds per second
        for suffix, allowed in BASE_UNITS:
            if name.endswith(suffix):
                units = _units_of(panel, target)
                assert units <= allowed, f"{panel['title']} {target['expr']}: {units}, expected {allowed}"
                checked += 1
                break
    assert checked > 20


def _units_of(panel: dict, target: dict) -> set[str]:
    """Units a target's fields can take: the default, or an override matching its legend."""
    units = {panel["fieldConfig"]["defaults"]["unit"]}
    legend = target.get("legendFormat", "")
    for override in panel["fieldConfig"]["overrides"]:
        matcher = override["matcher"]
        rendered = re.sub(r"\{\{\s*\w+\s*\}\}", "X", legend)
        if (matcher["id"] == "byName" and matcher["options"] == legend) or (
            matcher["id"] == "byRegexp" and re.fullmatch(matcher["options"], rendered)
        ):
            units |= {p["value"] for p in override["properties"] if p["id"] == "unit"}
            if any(p["id"] == "unit" for p in override["properties"]):
                units.discard(panel["fieldConfig"]["defaults"]["unit"])
    return units


# --- wall-screen layout --------------------------------------------------------------------------


def test_panels_fit_the_grid_without_overlapping(dashboard):
    occupied: dict[tuple[int, int], str] = {}
    for panel in dashboard["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["w"] > 0 and pos["x"] + pos["w"] <= GRID_COLUMNS, panel["title"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in occupied, f"{panel['title']} overlaps {occupied[(x, y)]}"
                occupied[(x, y)] = panel["title"]


def test_everything_fits_one_1080p_screen_without_scrolling(dashboard):
    bottom = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in dashboard["panels"])
    assert bottom <= SCREEN_ROWS
    assert not any(p["type"] == "row" and p["collapsed"] for p in dashboard["panels"])
    # A horizontally repeated panel must span the full width, so its copies (up to maxPerRow)
    # share that row instead of wrapping below it.
    for panel in dashboard["panels"]:
        if panel.get("repeat"):
            assert panel["repeatDirection"] == "h" and panel["gridPos"]["w"] == GRID_COLUMNS, panel["title"]
    # The screen is filled: no empty cells.
    assert sum(p["gridPos"]["w"] * p["gridPos"]["h"] for p in dashboard["panels"]) == GRID_COLUMNS * bottom


def test_rows_in_the_documented_order(dashboard):
    rows = [p["title"] for p in dashboard["panels"] if p["type"] == "row"]
    assert rows == ["Loss and speed", "GPU", "Plan vs actual · all runs"]
    top = sorted((p for p in dashboard["panels"] if p["gridPos"]["y"] == 0), key=lambda p: p["gridPos"]["x"])
    assert [p["title"] for p in top] == ["Progress", "ETA", "Energy", "Electricity cost", "Val loss",
                                         "GPU temperature", "VRAM used", "Firing alerts"]


def test_vram_gauge_turns_orange_at_90_and_red_at_95_percent(dashboard):
    (vram,) = [p for p in dashboard["panels"] if p["title"] == "VRAM used"]
    assert vram["type"] == "gauge"
    steps = vram["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [(s["color"], s["value"]) for s in steps] == [("green", None), ("orange", 0.9), ("red", 0.95)]


def test_kiosk_refresh_and_variables(dashboard):
    assert dashboard["refresh"]
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert list(variables) == ["run", "node", "gpu"], "each variable after the ones it reads"
    assert variables["run"]["sort"] == 0 and not variables["run"]["multi"], "the query's order: newest first"
    assert variable_expression(variables["run"])[0].startswith("sort_desc(")
    assert variable_expression(variables["node"]) == ('training_energy_joules_total{run=~"$run"}', "node")
    assert variable_expression(variables["gpu"]) == ('training_gpu_info{node=~"$node"}', "gpu")
    for name in ("node", "gpu"):
        assert variables[name]["multi"] and variables[name]["includeAll"] and variables[name]["allValue"] == ".*"
    for panel, target in all_targets(dashboard):
        names = metric_names(target["expr"])
        if panel["title"] == ALL_RUNS:
            assert "$" not in target["expr"], f"{ALL_RUNS} lists every run: {target['expr']}"
        elif any(is_gpu_metric(n) for n in names):
            assert 'node=~"$node", gpu=~"$gpu"' in target["expr"], target["expr"]
            assert "{{node}}" in target["legendFormat"], f"{panel['title']}: which node's GPU"
        else:
            assert 'run=~"$run"' in target["expr"], target["expr"]


ALL_RUNS = "All runs"


def test_run_figures_are_the_run_totals_across_its_nodes(dashboard):
    """Energy, cost, power, progress and ETA of the chosen run come from run-totals.yml, never from
    one exporter's series (which would show one node's share, or one value per node)."""
    totals = {rule["record"] for rule in load_rules([PROMETHEUS_DIR / "rules" / "run-totals.yml"])}
    per_node = {"training_energy_joules_total", "training_electricity_cost", "training_electricity_cost_projected",
                "training_power_watts", "training_energy_projected_joules", "training_plan_energy_joules",
                "training_progress_ratio", "training_eta_seconds"}
    used = set()
    for panel, target in all_targets(dashboard):
        names = metric_names(target["expr"])
        assert not names & per_node or panel["title"] == ALL_RUNS, f"{panel['title']}: {target['expr']}"
        used |= names & totals
    assert used >= {"run:training_energy_kwh:total", "run:training_energy_projected_kwh:total",
                    "run:training_electricity_cost:sum", "run:training_electricity_cost_projected:sum",
                    "run:training_power_watts:sum", "run:training_progress_ratio:max", "run:training_eta_seconds:max"}


def test_all_runs_table_shows_state_progress_eta_and_cost_newest_first(dashboard):
    (table,) = [p for p in dashboard["panels"] if p["title"] == ALL_RUNS]
    assert table["type"] == "table"
    assert all(t["format"] == "table" and t["instant"] for t in table["targets"])
    organize = next(t for t in table["transformations"] if t["id"] == "organize")["options"]
    columns = {organize["renameByName"].get(f"Value #{t['refId']}", t["refId"]): t["expr"] for t in table["targets"]}
    assert "training_state" in columns["A"]
    assert columns["progress"] == "run:training_progress_ratio:max"
    assert columns["ETA"] == "run:training_eta_seconds:max"
    assert columns["cost"] == "run:training_electricity_cost:sum"
    assert table["options"]["sortBy"] == [{"displayName": "started", "desc": True}]
    units = {o["matcher"]["options"]: p["value"] for o in table["fieldConfig"]["overrides"]
             for p in o["properties"] if p["id"] == "unit"}
    assert units["progress"] == "percentunit" and units["ETA"] == "dtdurations"


def test_slack_messages_link_to_this_dashboard(dashboard):
    template = (PROMETHEUS_DIR / "templates/slack.tmpl").read_text()
    assert f"/d/{dashboard['uid']}" in template


# --- metric names: every one is in the metric contract and the exporter ---------------------------

_PROMQL_WORDS = {
    "on", "ignoring", "group_left", "group_right", "by", "without", "and", "or", "unless", "bool",
    "sum", "avg", "min", "max", "count", "rate", "irate", "increase", "delta", "deriv", "time",
    "vector", "scalar", "abs", "clamp_min", "clamp_max", "label_replace", "topk", "bottomk",
    "max_over_time", "min_over_time", "avg_over_time", "last_over_time", "offset", "sort_desc",
}


def variable_expression(variable: dict) -> tuple[str, str]:
    """A query variable's PromQL and the label its values come from: ``label_values(selector,
    label)``, or ``query_result(expr)`` with a regex that picks ``label="…"`` out of each series."""
    query = variable["query"]["query"]
    values = re.fullmatch(r"label_values\((.+), *(\w+)\)", query)
    if values:
        return values.group(1), values.group(2)
    result = re.fullmatch(r"query_result\((.+)\)", query)
    assert result and variable["query"]["varQuery"] == result.group(1), variable["name"]
    label = re.fullmatch(r'/(\w+)="\(\?<value>\[\^"\]\+\)"/', variable["regex"])
    assert label, variable["regex"]
    return result.group(1), label.group(1)


def metric_names(expr: str) -> set[str]:
    """Metric names an expression selects (matchers, label lists, ranges and numbers removed)."""
    text = re.sub(r'"[^"]*"', "", expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(on|ignoring|by|without|group_left|group_right)\s*\([^)]*\)", "", text)
    text = re.sub(r"(?<![\w:])\d+(\.\d+)?([eE][+-]?\d+)?", "", text)
    words = re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", text)
    return {w for w in words if w not in _PROMQL_WORDS}


def _recording_rules() -> dict[str, str]:
    return {rule["record"]: rule["expr"] for rule in load_rules() if "record" in rule}


def exporter_metric_names(name: str, seen: frozenset[str] = frozenset()) -> set[str]:
    """The exporter metrics behind a name: itself, or what a recording rule computes it from (a
    rule that reads its own previous value, like node:training_energy_joules:last, counts once)."""
    recorded = _recording_rules()
    if name in seen:
        return set()
    if name in recorded:
        return set().union(*(exporter_metric_names(n, seen | {name}) for n in metric_names(recorded[name])))
    return {name}


def is_gpu_metric(name: str) -> bool:
    return any(n.startswith("training_gpu_") for n in exporter_metric_names(name))


def _readme_metrics() -> set[str]:
    readme = (ROOT / "README.md").read_text()
    return set(re.findall(r"^\| `(training_\w+)[{`]", readme, re.M))


def _exporter_source() -> str:
    return "\n".join(p.read_text() for p in (ROOT / "exporter").rglob("*.py"))


def test_every_metric_is_in_the_readme_contract_and_the_exporter_source(dashboard):
    """GPU and energy series cannot be produced on a machine without an NVIDIA GPU, so besides the
    live check below (which fakes only the NVML library) each name is checked against the metric
    contract and the exporter's source here."""
    contract = _readme_metrics()
    source = _exporter_source()
    assert len(contract) > 60
    expressions = [t["expr"] for _, t in all_targets(dashboard)]
    expressions += [variable_expression(v)[0] for v in dashboard["templating"]["list"]]
    for expr in expressions:
        for name in metric_names(expr):
            for metric in exporter_metric_names(name):
                assert metric in contract, f"{metric} ({expr}) is not in README's metric table"
                base = metric.removesuffix("_total")
                assert f'"{base}' in source, f"{metric} ({expr}) is not produced by exporter/"


def test_metric_name_extraction():
    assert metric_names('a_b{x="c d"} * on(run) group_left() (e / (f > 0))') == {"a_b", "e", "f"}
    assert metric_names("rate(x_total{g=~\"$gpu\"}[$__rate_interval]) / 3.6e6") == {"x_total"}
    assert metric_names("run:training_energy_kwh:total{run=~\"$run\"}") == {"run:training_energy_kwh:total"}
    assert exporter_metric_names("run:training_energy_kwh:total") == {"training_energy_joules_total"}
    assert exporter_metric_names("run:training_electricity_cost:sum") == {
        "training_electricity_cost", "training_energy_joules_total"}


# --- every query returns data from a real Prometheus scraping the real exporter --------------------


RUN = "wall-screen"
NODE = "wall-node"
PRICE_PER_KWH = 0.30

# Stands in for the pynvml module in the exporter process (first on its PYTHONPATH): two busy
# GPUs from tests/fake_nvml.py with the trainer's memory on both. Only the NVML library is faked;
# the exporter, Prometheus and the recording rules are the real ones.
FAKE_PYNVML = """import sys
sys.path.insert(0, {tests!r})
from fake_nvml import GIB, FakeNvml, fake_gpus
_gpus = fake_gpus(2)
for _gpu in _gpus:
    _gpu.processes = [({pid}, 6 * GIB)]
sys.modules[__name__] = FakeNvml(_gpus)
"""

# What Grafana puts in place of its macros, for a 1 s scrape interval.
GRAFANA_MACROS = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "1h"}


@pytest.fixture(scope="module")
def live_stack(tmp_path_factory, local_stack):
    missing = local_stack.missing_binaries(alertmanager=False)
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)} (Debian package prometheus; CI installs it)")
    work = tmp_path_factory.mktemp("dashboard-live")
    log = work / "train.log"
    log.write_text(scenario_two())
    shim = work / "fake-nvml"
    shim.mkdir()
    (shim / "pynvml.py").write_text(FAKE_PYNVML.format(tests=str(ROOT / "tests"), pid=os.getpid()))
    checkpoints = work / "out"  # the checkpoint disk's panel: a directory with a checkpoint in it
    checkpoints.mkdir()
    (checkpoints / "ckpt.pt").write_bytes(b"\0" * 4096)
    flags = ("--log", str(log), "--run", RUN, "--node", NODE, "--gpu-sample-interval-seconds", "0.2", "--other-watts", "80",
             "--price-per-kwh", str(PRICE_PER_KWH), "--currency", "EUR", "--state-file", str(work / "state.json"),
             "--checkpoint-dir", str(checkpoints), "--budget", "100")
    with ExporterProcess(*flags, import_first=shim) as exporter:
        with local_stack.LocalStack(exporter.port, work / "stack", alertmanager=False, scrape_interval="1s") as stack:
            try:
                stack.wait_for_target("training-exporter")
            except TimeoutError:
                pytest.fail(f"exporter not scraped; its output:\n{exporter.output()}")
            yield stack


def variable_values(stack, dashboard: dict) -> dict[str, list[str]]:
    """What the dashboard's variables offer, read from Prometheus, each variable with the values of
    those before it (all of them, as on a first load with "All"): label_values(selector, label)
    sorted, query_result(expr) in the query's order."""
    values: dict[str, list[str]] = {}
    for variable in dashboard["templating"]["list"]:
        expr, label = variable_expression(variable)
        result = stack.query(as_grafana_sends_it(expr, values))
        found = [series["metric"][label] for series in result if label in series["metric"]]
        values[variable["name"]] = list(dict.fromkeys(found)) if variable["sort"] == 0 else sorted(set(found))
    return values


def as_grafana_sends_it(expr: str, variables: dict[str, list[str]]) -> str:
    for macro, value in GRAFANA_MACROS.items():
        expr = expr.replace(macro, value)
    for name, values in variables.items():
        expr = expr.replace(f"${name}", values[0] if len(values) == 1 else "(" + "|".join(values) + ")")
    assert "$" not in expr, expr
    return expr


def test_every_query_returns_data_from_prometheus_fed_by_the_exporter(live_stack, dashboard):
    stack = live_stack
    variables = stack.wait_until(
        lambda: (v := variable_values(stack, dashboard))["gpu"] and v, timeout=30, what="dashboard variables"
    )
    assert variables == {"run": [RUN], "node": [NODE], "gpu": ["0", "1"]}
    queries = [(panel["title"], as_grafana_sends_it(t["expr"], variables)) for panel, t in all_targets(dashboard)]

    def empty() -> list[str]:
        return [f"{title}: {expr}" for title, expr in queries if not stack.query(expr)]

    deadline = time.monotonic() + 60
    while (missing := empty()) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not missing, "no data for:\n" + "\n".join(missing) + "\n" + stack.logs()

    for title, expr in queries:
        for series in stack.query(expr):
            labels = series["metric"]
            assert labels.get("run", RUN) == RUN, (title, labels)
        if any(is_gpu_metric(name) for name in metric_names(expr)):
            assert {(s["metric"]["node"], s["metric"]["gpu"]) for s in stack.query(expr)} == {
                (NODE, "0"), (NODE, "1")}, f"{title}: {expr}"


def test_planned_cost_is_the_planned_energy_at_the_configured_price(live_stack, dashboard):
    (cost,) = [p for p in dashboard["panels"] if p["title"] == "Cost"]
    (planned,) = [t["expr"] for t in cost["targets"] if t["legendFormat"].startswith("planned")]
    stack = live_stack
    expr = as_grafana_sends_it(planned, {"run": [RUN]})
    value = stack.wait_until(lambda: stack.query_value(expr), timeout=30, what="planned cost")
    plan_kwh = stack.query_value(f'training_plan_energy_joules{{run="{RUN}"}}') / 3.6e6
    assert value == pytest.approx(plan_kwh * PRICE_PER_KWH, rel=0.02)
    (series,) = stack.query(expr)
    assert series["metric"]["currency"] == "EUR"


def test_the_run_variable_offers_the_newest_run_first(dashboard, tmp_path):
    """The run variable's query, evaluated by promtool: a run's start is its last progress time less
    its elapsed training time; a run without progress yet started now; a run still waiting for its
    log is not offered. sort_desc puts the latest start first, and Grafana selects the first value."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package prometheus; CI installs it)")
    (run,) = [v for v in dashboard["templating"]["list"] if v["name"] == "run"]
    expr, label = variable_expression(run)
    series = {
        'training_last_progress_timestamp_seconds{run="old"}': "7200", 'training_elapsed_seconds{run="old"}': "7000",
        'training_last_progress_timestamp_seconds{run="new"}': "7200", 'training_elapsed_seconds{run="new"}': "600",
        'training_state{run="fresh",state="starting"}': "1", 'training_state{run="fresh",state="waiting"}': "0",
        'training_state{run="later",state="starting"}': "0", 'training_state{run="later",state="waiting"}': "1",
    }
    case = {"rule_files": [], "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": [{"series": name, "values": f"{value}x120"} for name, value in series.items()],
        "promql_expr_test": [{"expr": expr, "eval_time": "2h", "exp_samples": [
            {"labels": f'{{{label}="fresh"}}', "value": 7200},
            {"labels": f'{{{label}="new"}}', "value": 6600},
            {"labels": f'{{{label}="old"}}', "value": 200},
        ]}],
    }]}
    path = tmp_path / "newest.test.yml"
    path.write_text(yaml.safe_dump(case))
    result = subprocess.run([promtool, "test", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
