"""A node of a multi-node run: ``serve --run NAME`` without a log reports its GPUs and their energy
under that run, with the ``node`` label, and no training progress; a real exporter process with
the NVML library faked (tests/fake_nvml.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from exporter_process import ExporterProcess
from fake_nvml import GIB, FakeGpu, pynvml_source

WATTS = 500.0


def samples(text: str) -> list:
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


@pytest.fixture
def trainer():
    """A process standing in for the trainer on this node: its command line names the run."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "--out_dir=out-big"])
    yield process
    process.kill()
    process.wait()


def start(tmp_path, gpus, *flags):
    shim = tmp_path / "fake-nvml"
    shim.mkdir()
    (shim / "pynvml.py").write_text(pynvml_source(gpus))
    return ExporterProcess("--gpu-sample-interval-seconds", "0.1", *flags, import_first=shim)


def test_a_node_without_the_log_reports_the_runs_gpus_and_energy_under_its_name(tmp_path, trainer):
    gpus = [FakeGpu(uuid="GPU-a", processes=[(trainer.pid, 6 * GIB)], energy_watts=WATTS),
            FakeGpu(uuid="GPU-b", energy_watts=WATTS)]
    with start(tmp_path, gpus, "--run", "big", "--node", "worker-2", "--trainer-cmdline-match", "out-big") as exporter:
        exporter.wait_for('training_energy_joules_total{node="worker-2",run="big"}')
        before = exporter.scrape()
        begin = time.monotonic()
        time.sleep(2.0)
        text = exporter.scrape()
        elapsed = time.monotonic() - begin
        code, output = exporter.stop()
    assert code == 0, output
    names = {s.name for s in samples(text)}
    assert not {n for n in names if n.startswith("training_") and not n.startswith(
        ("training_gpu_", "training_exporter_", "training_energy", "training_power", "training_electricity",
         "training_run_gpu"))}, names  # no progress series: the log is on another node
    gpu_series = [s for s in samples(text) if s.name.startswith("training_gpu_")]
    assert gpu_series and all(s.labels["node"] == "worker-2" for s in gpu_series)
    # the run's energy: GPU-a only (its process), 500 W; GPU-b's energy is no run's
    for name in ("training_energy_joules_total", "training_energy_unattributed_joules_total"):
        assert _value(text, name) - _value(before, name) == pytest.approx(WATTS * elapsed, rel=0.15), name
    share = [s for s in samples(text) if s.name == "training_run_gpu_share_ratio"]
    assert [(s.labels["uuid"], s.labels["run"], s.value) for s in share] == [("GPU-a", "big", 1.0)]
    assert 'collector="training_log"' not in text and "Traceback" not in output


def test_the_node_label_defaults_to_the_host_name(tmp_path):
    with start(tmp_path, [FakeGpu(uuid="GPU-a")], "--run", "big") as exporter:
        text = exporter.wait_for("training_gpu_up{")
    assert f'node="{os.uname().nodename}"' in text


def test_without_a_log_or_a_run_the_mistake_is_named(tmp_path):
    exporter = start(tmp_path, [FakeGpu(uuid="GPU-a")])
    assert exporter.process.wait(timeout=20) == 2
    assert "pass --log PATH" in exporter.output() and "--run NAME" in exporter.output()


def _value(text: str, name: str) -> float:
    return next(s.value for s in samples(text) if s.name == name)
