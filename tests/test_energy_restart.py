"""Energy so far survives a restart of the real exporter process (state file), without a GPU."""

import json
import re
import time

import pytest

from conftest import write_log
from exporter_process import ExporterProcess
from nanogpt_fixture import preamble, progress_lines

ENERGY = re.compile(r'^training_energy_joules_total\{node="[^"]+",run="restart"\} (\S+)$', re.MULTILINE)
SAMPLE_SECONDS = 0.1  # --gpu-sample-interval-seconds: the energy account is updated this often
# The energy a freshly counted run may show at a scrape is bounded by the time the exporter has been
# counting (power x time; no GPU here, so only --other-watts, and psu_efficiency defaults to 1).
# The shown value lags the clock by up to one update plus scheduling delays.
LAG_SECONDS = 3 * SAMPLE_SECONDS


def energy(exporter, at_least=0.0, timeout=20.0):
    exporter.wait_for("training_energy_joules_total", timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = ENERGY.search(exporter.scrape())
        if match and float(match[1]) > at_least:
            return float(match[1])
        time.sleep(0.1)
    raise AssertionError(f"energy did not pass {at_least} J")


def assert_counts_from_zero_at(exporter, watts: float, started: float) -> None:
    """The exporter's energy is what ``watts`` gives from its own start (``started``, monotonic
    clock, taken before the process was launched), not anything carried over, and keeps rising at
    ``watts``."""
    first = energy(exporter)
    assert 0 < first <= watts * (time.monotonic() - started)
    begin, at_begin = time.monotonic(), energy(exporter)
    time.sleep(1.0)
    end, at_end = time.monotonic(), energy(exporter, at_least=at_begin)
    assert at_end - at_begin == pytest.approx(watts * (end - begin), abs=watts * LAG_SECONDS)


def test_energy_continues_after_the_exporter_is_killed_and_restarted(tmp_path):
    log = write_log(tmp_path / "train.log", preamble() + progress_lines(0, 300))
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
    log = write_log(tmp_path / "train.log", preamble() + progress_lines(0, 100))
    started = time.monotonic()
    with ExporterProcess("--log", str(log), "--run", "restart", "--state-file", str(state),
                         "--other-watts", "100", "--gpu-sample-interval-seconds", "0.1") as exporter:
        assert energy(exporter) < 1e6
        assert_counts_from_zero_at(exporter, 100.0, started)


def test_a_finished_runs_energy_is_not_carried_into_the_next_run_of_the_same_name(tmp_path):
    state = tmp_path / "energy.json"
    state.write_text(json.dumps({"version": 1, "run": "restart", "energy_joules": 9e9, "readings": {},
                                 "finished": True}))
    log = write_log(tmp_path / "train.log", preamble() + progress_lines(0, 100))
    started = time.monotonic()
    with ExporterProcess("--log", str(log), "--run", "restart", "--state-file", str(state),
                         "--other-watts", "100", "--gpu-sample-interval-seconds", "0.1") as exporter:
        assert energy(exporter) < 1e6
        assert_counts_from_zero_at(exporter, 100.0, started)
        code, output = exporter.stop()
    assert "energy counts from zero" in output


def test_a_new_training_from_scratch_in_the_log_counts_its_energy_from_zero(tmp_path):
    log = write_log(tmp_path / "train.log", preamble() + progress_lines(0, 300))
    state = tmp_path / "energy.json"
    flags = ("--log", str(log), "--run", "restart", "--state-file", str(state),
             "--other-watts", "10000", "--gpu-sample-interval-seconds", "0.1")
    with ExporterProcess(*flags) as exporter:
        first = energy(exporter, at_least=30_000.0)  # 10 kW for 3 s
        appended = time.monotonic()
        write_log(log, preamble() + progress_lines(0, 50, seed=7), append=True)
        exporter.wait_for('training_iteration{run="restart"} 50.0')
        again = energy(exporter)
        assert again < first / 2  # counting from zero again for well under 1.5 s
        # From zero at the new training's start, which comes after the append (the first update
        # after the restart may still count the interval it began in).
        assert 0 < again <= 10_000.0 * (time.monotonic() - appended + LAG_SECONDS)
    assert json.loads(state.read_text())["run"] == "restart#1"
