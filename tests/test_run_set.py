"""Several logs in one exporter: the logs to follow (paths, globs), the run name each gets, files a
glob starts matching later, runs whose log is gone dropped after the grace period, and one state
per run in the state file (a single-run file taken over)."""

import json

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from conftest import write_log
from exporter.commands.cli import main
from exporter.collectors.base import CollectorStats
from exporter.collectors.exporter_self import ExporterCollector
from exporter.collectors.runs import RunsCollector
from exporter.commands.config import ConfigError, load
from exporter.energy import EnergySettings
from exporter.energy.store import StateStore
from exporter.run import RunModel
from exporter.run_set.entry import RunFactory
from exporter.run_set.registry import RunSet
from exporter.run_set.sources import LogSource, derived_name, unique_name
from nanogpt_fixture import preamble, progress_lines

GRACE = 60.0


@pytest.mark.parametrize("pattern, path, name", [
    ("runs/*/train.log", "runs/lr3e-4/train.log", "lr3e-4"),
    ("logs/*.log", "logs/seed1.log", "seed1"),
    ("logs/run-*.log", "logs/run-7.log", "run-7"),
    ("sweep/*/seed*/out.txt", "sweep/lr1/seed2/out.txt", "lr1/seed2"),
    ("/abs/*/train.log", "/abs/b/train.log", "b"),
])
def test_a_globs_run_is_named_after_what_its_wildcards_matched(pattern, path, name):
    assert derived_name(LogSource(pattern), path) == name


def test_a_paths_run_is_its_file_name_or_its_own_name():
    assert derived_name(LogSource("out/train.log"), "out/train.log") == "train"
    assert derived_name(LogSource("out/train.log", run="small"), "out/train.log") == "small"


def test_a_taken_name_gets_its_folder_then_a_number():
    assert unique_name("train", "b/train.log", {"other"}) == "train"
    assert unique_name("train", "b/train.log", {"train"}) == "b/train"
    assert unique_name("train", "b/train.log", {"train", "b/train"}) == "train-2"
    assert unique_name("train", "b/train.log", {"train", "b/train", "train-2"}) == "train-3"


def test_log_is_repeatable_and_the_config_file_names_each_logs_run(tmp_path):
    config = load(None, {"log": ["a/train.log", "runs/*/train.log"]})
    assert [s.pattern for s in config.logs] == ["a/train.log", "runs/*/train.log"]
    path = tmp_path / "exporter.yml"
    path.write_text("log:\n  - {path: a/train.log, run: small}\n  - {path: b/train.log, run: big, "
                    "trainer_cmdline_match: out-big}\n  - 'sweep/*/train.log'\n")
    assert load(str(path)).logs == (LogSource("a/train.log", "small"), LogSource("b/train.log", "big", "out-big"),
                                    LogSource("sweep/*/train.log"))
    assert load(None, {"log": ["one.log"]}).log == "one.log"  # one path stays a path


@pytest.mark.parametrize("values, problem", [
    ({"log": ["a.log", "b.log"], "run": "x"}, "run: names the run of one log"),
    ({"log": "runs/*/train.log", "run": "x"}, "run: names the run of one log"),
    ({"log": ["a.log", "b.log"], "trainer_pid": 5}, "trainer_pid: is the trainer of one log"),
    ({"log": [{"path": "runs/*.log", "run": "x"}]}, "is a glob: its runs are named from the paths"),
    ({"log": [{"path": "a.log", "run": "x"}, {"path": "b.log", "run": "x"}]}, "run 'x' is named twice"),
    ({"log": [{"path": "a.log", "name": "x"}]}, "log: expected a path or glob"),
    ({"log": []}, "log: expected a path or glob"),
    ({"node": " "}, "node: must not be empty"),
])
def test_what_does_not_fit_together_is_named(values, problem):
    with pytest.raises(ConfigError) as error:
        load(None, values)
    assert problem in str(error.value)


def test_run_wraps_one_log_only(tmp_path, capsys):
    assert main(["run", "--log", "a.log", "--log", "b.log", "--", "true"]) == 2
    assert "`run` writes one log" in capsys.readouterr().err


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0


def run_set(sources, state_file=None, grace=GRACE, **options):
    store = StateStore(state_file) if state_file else None
    factory = RunFactory(lambda path, name: RunModel(name, path), EnergySettings(other_watts=100.0), store)
    runs = RunSet(factory, [LogSource(s) if isinstance(s, str) else s for s in sources],
                  missing_log_grace_seconds=grace, **options)
    return runs


def names(runs):
    return sorted(entry.name for entry in runs.entries())


def test_a_glob_picks_up_files_as_they_appear_and_drops_a_gone_one_after_the_grace_period(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        write_log(tmp_path / name / "train.log", preamble() + progress_lines(0, 100))
    state = tmp_path / "state.json"
    runs, now = run_set([str(tmp_path / "*" / "train.log")], state_file=state), 1_000_000.0
    runs.open(now)
    assert names(runs) == ["a", "b"]
    (tmp_path / "c").mkdir()
    write_log(tmp_path / "c" / "train.log", preamble() + progress_lines(0, 30))
    runs.refresh(now + 1)
    assert names(runs) == ["a", "b", "c"]
    assert {e.name: e.snapshot().iteration for e in runs.entries()} == {"a": 100, "b": 100, "c": 30}

    (tmp_path / "b" / "train.log").unlink()
    runs.refresh(now + 2)
    runs.refresh(now + 2 + GRACE - 1)
    assert names(runs) == ["a", "b", "c"]  # within the grace period
    runs.tick((), now + 3)
    assert {s["run"] for s in json.loads(state.read_text())["runs"]} == {"a", "b", "c"}
    runs.refresh(now + 2 + GRACE)
    assert names(runs) == ["a", "c"]
    assert {s["run"] for s in json.loads(state.read_text())["runs"]} == {"a", "c"}  # b's state goes with it
    runs.stop()


def test_a_log_back_within_the_grace_period_keeps_its_run(tmp_path):
    (tmp_path / "a").mkdir()
    log = write_log(tmp_path / "a" / "train.log", preamble() + progress_lines(0, 100))
    runs = run_set([str(tmp_path / "*" / "train.log")])
    runs.open(0.0)
    entry = runs.entries()[0]
    log.rename(tmp_path / "a" / "train.log.1")  # rotated
    runs.refresh(10.0)
    write_log(log, progress_lines(100, 120))
    runs.refresh(20.0)
    runs.refresh(20.0 + GRACE)
    assert runs.entries() == (entry,) and entry.missing_since is None
    runs.stop()


def test_a_named_path_is_followed_before_it_exists_and_never_dropped(tmp_path):
    runs = run_set([str(tmp_path / "later.log"), str(tmp_path / "x" / "later.log")], grace=0.0)
    runs.open(0.0)
    assert names(runs) == ["later", "x/later"]
    assert {e.snapshot().state for e in runs.entries()} == {"waiting"}
    runs.refresh(100.0)
    assert names(runs) == ["later", "x/later"]
    runs.stop()


def test_each_run_keeps_its_own_state_and_a_single_run_file_is_taken_over(tmp_path):
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"version": 1, "run": "a", "energy_joules": 5000.0, "readings": {}}))
    for name in ("a", "b"):
        write_log(tmp_path / f"{name}.log", preamble() + progress_lines(0, 100))
    runs = run_set([str(tmp_path / "*.log")], state_file=state)
    runs.open(0.0)
    for t in (1.0, 2.0, 3.0):
        runs.tick((), t)
    runs.stop()
    saved = json.loads(state.read_text())
    assert saved["version"] == 2
    energy = {s["run"]: s["energy_joules"] for s in saved["runs"]}
    assert energy == {"a": pytest.approx(5000.0 + 100.0), "b": pytest.approx(100.0)}  # 100 W shared, 2 s

    again = run_set([str(tmp_path / "*.log")], state_file=state)
    again.open(10.0)
    assert {e.name: e.energy.figures(e.snapshot()).joules for e in again.entries()} == pytest.approx(energy)
    again.stop()


def test_status_reads_one_log(capsys):
    assert main(["status", "runs/*/train.log"]) == 2
    assert "status reads one log" in capsys.readouterr().err


def test_one_exposition_holds_every_run_once_per_family_and_a_collector_succeeds_only_for_all(tmp_path):
    write_log(tmp_path / "a.log", preamble() + progress_lines(0, 100))
    runs = run_set([str(tmp_path / "a.log"), str(tmp_path / "b.log")])  # b.log not there yet
    runs.open(0.0)
    registry, stats = CollectorRegistry(auto_describe=False), CollectorStats()
    registry.register(RunsCollector(runs, stats, "box"))
    registry.register(ExporterCollector(stats))
    families = {f.name: f for f in text_string_to_metric_families(generate_latest(registry).decode())}
    assert sorted(s.labels["run"] for s in families["training_info"].samples) == ["a", "b"]
    assert {s.labels["run"] for s in families["training_state"].samples} == {"a", "b"}
    assert [s.labels["run"] for s in families["training_iteration"].samples] == ["a"]  # b is waiting
    success = {s.labels["collector"]: s.value for s in families["training_exporter_collector_success"].samples}
    assert success["training_log"] == 0.0  # not every run's log could be read
    write_log(tmp_path / "b.log", preamble() + progress_lines(0, 50))
    for entry in runs.entries():
        entry.watcher.poll()
    families = {f.name: f for f in text_string_to_metric_families(generate_latest(registry).decode())}
    assert {s.labels["run"]: s.value for s in families["training_iteration"].samples} == {"a": 100, "b": 50}
    success = {s.labels["collector"]: s.value for s in families["training_exporter_collector_success"].samples}
    assert success["training_log"] == 1.0
    runs.stop()


def test_a_slowdowns_evidence_is_read_on_the_gpus_the_runs_processes_are_on(tmp_path):
    from exporter.gpu import GpuReading

    log = tmp_path / "train.log"
    log.write_text("\n".join(preamble() + progress_lines(0, 100)) + "\n")
    runs = run_set([str(log)])
    runs.open(1_000_000.0)
    (entry,) = runs.entries()
    heard = []
    entry.slowdown.observe = lambda slow, readings, now: heard.append([r.uuid for r in readings])
    trainer, stranger = GpuReading(0, "GPU-0", "A", processes=((4242, 1),)), GpuReading(1, "GPU-1", "A", processes=())
    runs.tick((trainer, stranger), 1_000_001.0)  # the trainer's process known (alone: every process is its own)
    runs.tick((GpuReading(0, "GPU-0", "A", processes=()), stranger), 1_000_002.0)  # no process anywhere: every GPU
    assert heard == [["GPU-0"], ["GPU-0", "GPU-1"]]
