"""Every reader of a run sees the same figures: ``status`` and ``serve`` agree on the energy of a
log holding two trainings, and one exposition never mixes two snapshots."""

import json
import re
import threading
import time

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from exporter.commands.cli import main
from exporter.collectors.base import CollectorStats, SnapshotCollectors
from exporter.collectors.energy import EnergyCollector
from exporter.collectors.training import TrainingCollector
from exporter.commands.config import Config
from exporter.energy import RunEnergy
from exporter.log.follow import LogFollower
from exporter.commands.serve import energy_settings, open_run
from exporter.log.watch import LogWatcher
from exporter_process import ExporterProcess
from nanogpt_fixture import preamble, progress_lines

ENERGY = re.compile(r'^training_energy_joules_total\{node="[^"]+",run="two"\} (\S+)$', re.MULTILINE)


def test_status_reports_the_energy_serve_kept_for_the_second_training(tmp_path, capsys):
    log = tmp_path / "train.log"
    log.write_text("\n".join(preamble() + progress_lines(0, 300) + preamble() + progress_lines(0, 50, seed=7)) + "\n")
    state = tmp_path / "energy.json"
    flags = ("--log", str(log), "--run", "two", "--state-file", str(state), "--other-watts", "10000",
             "--gpu-sample-interval-seconds", "0.1")
    with ExporterProcess(*flags) as exporter:
        text = exporter.wait_for('training_energy_joules_total{node=')
        while float(ENERGY.search(text)[1]) < 20_000:  # 10 kW for 2 s
            text = exporter.wait_for('training_energy_joules_total{node=')
        code, _ = exporter.stop()
    assert code == 0
    served = float(ENERGY.search(text)[1])
    saved = json.loads(state.read_text())
    assert saved["run"] == "two#1"  # the second training from scratch is its own run
    assert main(["status", str(log), "--run", "two", "--state-file", str(state), "--json"]) == 0
    reported = json.loads(capsys.readouterr().out)
    assert reported["energy_joules"] == pytest.approx(saved["energy_joules"])
    assert served <= reported["energy_joules"] < served + 10_000 * 2  # serve's last scrape, then its stop
    assert main(["status", str(log), "--run", "two", "--state-file", str(state)]) == 0
    assert "energy so far" in capsys.readouterr().out


def _values(text: str) -> dict[str, float]:
    return {sample.name: sample.value for family in text_string_to_metric_families(text)
            for sample in family.samples if not sample.labels.keys() - {"run", "node", "currency", "source"}}


def test_one_exposition_comes_from_one_snapshot_while_lines_arrive(tmp_path):
    log = tmp_path / "train.log"
    lines = preamble() + progress_lines(0, 3000)
    log.write_text("\n".join(lines[:200]) + "\n")
    clock = [1_000.0]
    watcher = LogWatcher(open_run(Config(log=str(log), run="r")), LogFollower(str(log)), clock=lambda: clock[0])
    watcher.poll()
    energy = RunEnergy.open(energy_settings(Config(other_watts=300)), watcher.snapshot(), clock[0])
    stats = CollectorStats()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollectors(watcher.snapshot, [TrainingCollector(stats), EnergyCollector(energy, stats)],
                                         stats))
    done = threading.Event()

    def write() -> None:
        with log.open("a") as f:
            for start in range(200, len(lines), 7):
                f.write("\n".join(lines[start:start + 7]) + "\n")
                f.flush()
                clock[0] += 1.3
                watcher.poll()
                energy.tick(watcher.snapshot(), {}, clock[0])
                time.sleep(0.002)  # let the scrapes interleave
        done.set()

    threading.Thread(target=write, daemon=True).start()
    seen = set()
    while not done.is_set() or len(seen) < 2:
        v = _values(generate_latest(registry).decode())
        if "training_eta_seconds" not in v:
            continue
        seen.add(v["training_iteration"])
        assert v["training_progress_ratio"] == pytest.approx(v["training_iteration"] / v["training_max_iterations"])
        assert v["training_expected_end_timestamp_seconds"] == pytest.approx(
            v["training_last_progress_timestamp_seconds"] + v["training_eta_seconds"])
        if "training_energy_projected_joules" in v:
            assert v["training_energy_projected_joules"] == pytest.approx(
                v["training_energy_joules_total"] + v["training_power_watts"] * v["training_eta_seconds"])
    assert len(seen) > 10  # the scrapes really ran while the run advanced
