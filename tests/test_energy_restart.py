"""Energy so far survives a restart of the real exporter process (state file), without a GPU."""

import json
import re
import time

from exporter_process import ExporterProcess
from nanogpt_fixture import preamble, progress_lines

ENERGY = re.compile(r'^training_energy_joules_total\{run="restart"\} (\S+)$', re.MULTILINE)


def energy(exporter, at_least=0.0, timeout=20.0):
    exporter.wait_for("training_energy_joules_total", timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = ENERGY.search(exporter.scrape())
        if match and float(match[1]) > at_least:
            return float(match[1])
        time.sleep(0.1)
    raise AssertionError(f"energy did not pass {at_least} J")


def test_energy_continues_after_the_exporter_is_killed_and_restarted(tmp_path):
    log = tmp_path / "train.log"
    log.write_text("\n".join(preamble() + progress_lines(0, 300)) + "\n")
    state = tmp_path / "state" / "energy.json"
    flags = ("--log", str(log), "--run", "restart", "--state-file", str(state),
             "--other-watts", "1000", "--gpu-sample-interval-seconds", "0.1")

    with ExporterProcess(*flags) as first:
        before = energy(first, at_least=500.0)  # 1 kW for about half a second
        code, _ = first.stop()
    assert code == 0
    saved = json.loads(state.read_text())
    assert saved["run"] == "restart" and saved["energy_joules"] >= before

    with ExporterProcess(*flags) as second:
        resumed = energy(second)
        assert resumed >= saved["energy_joules"]
        assert energy(second, at_least=resumed + 200.0) > saved["energy_joules"] + 200.0
        code, output = second.stop()
    assert code == 0 and "resuming run 'restart'" in output


def test_another_run_does_not_inherit_the_energy(tmp_path):
    state = tmp_path / "energy.json"
    state.write_text(json.dumps({"version": 1, "run": "someone-else", "energy_joules": 9e9, "readings": {}}))
    log = tmp_path / "train.log"
    log.write_text("\n".join(preamble() + progress_lines(0, 100)) + "\n")
    with ExporterProcess("--log", str(log), "--run", "restart", "--state-file", str(state),
                         "--other-watts", "100", "--gpu-sample-interval-seconds", "0.1") as exporter:
        assert energy(exporter) < 1e6


def test_a_finished_runs_energy_is_not_carried_into_the_next_run_of_the_same_name(tmp_path):
    state = tmp_path / "energy.json"
    state.write_text(json.dumps({"version": 1, "run": "restart", "energy_joules": 9e9, "readings": {},
                                 "finished": True}))
    log = tmp_path / "train.log"
    log.write_text("\n".join(preamble() + progress_lines(0, 100)) + "\n")
    with ExporterProcess("--log", str(log), "--run", "restart", "--state-file", str(state),
                         "--other-watts", "100", "--gpu-sample-interval-seconds", "0.1") as exporter:
        assert energy(exporter) < 1e6
        code, output = exporter.stop()
    assert "energy counts from zero" in output


def test_a_new_training_from_scratch_in_the_log_counts_its_energy_from_zero(tmp_path):
    log = tmp_path / "train.log"
    log.write_text("\n".join(preamble() + progress_lines(0, 300)) + "\n")
    state = tmp_path / "energy.json"
    flags = ("--log", str(log), "--run", "restart", "--state-file", str(state),
             "--other-watts", "10000", "--gpu-sample-interval-seconds", "0.1")
    with ExporterProcess(*flags) as exporter:
        first = energy(exporter, at_least=30_000.0)  # 10 kW for 3 s
        with log.open("a") as f:
            f.write("\n".join(preamble() + progress_lines(0, 50, seed=7)) + "\n")
        exporter.wait_for('training_iteration{run="restart"} 50.0')
        assert energy(exporter) < first / 2  # counting from zero again for well under 1.5 s
    assert json.loads(state.read_text())["run"] == "restart#1"
