"""Energy account: deltas, counter resets, other_watts, PSU efficiency, mean power, persistence."""

import json
import os

from dataclasses import replace

import pytest

from exporter.commands.config import Config
from exporter.energy import EnergyAccount, RunEnergy, projected_joules
from exporter.energy.service import trainer_running
from exporter.run import RunSnapshot
from exporter.commands.serve import energy_settings


def test_sums_deltas_over_gpus_from_a_baseline():
    account = EnergyAccount("run")
    account.update({"gpu-a": 1_000_000.0, "gpu-b": 50.0}, now=100.0)  # baselines, nothing counted
    assert account.energy_joules() == 0
    account.update({"gpu-a": 1_000_200.0, "gpu-b": 350.0}, now=101.0)
    assert account.energy_joules() == pytest.approx(500)
    account.update({"gpu-a": 1_000_400.0, "gpu-b": 650.0}, now=102.0)
    assert account.energy_joules() == pytest.approx(1000)


def test_counter_reset_counts_from_the_new_value_never_negative():
    account = EnergyAccount("run")
    account.update({"gpu": 5_000.0}, now=0.0)
    account.update({"gpu": 5_300.0}, now=1.0)
    account.update({"gpu": 40.0}, now=2.0)  # driver reload: counter restarted from 0
    assert account.energy_joules() == pytest.approx(340)
    account.update({"gpu": 140.0}, now=3.0)
    assert account.energy_joules() == pytest.approx(440)


def test_other_watts_and_psu_efficiency():
    account = EnergyAccount("run", other_watts=50, psu_efficiency=0.8)
    account.update({"gpu": 0.0}, now=0.0)
    account.update({"gpu": 2_000.0}, now=10.0)  # 200 W GPU + 50 W for 10 s = 2,500 J -> 3,125 J at the wall
    assert account.energy_joules() == pytest.approx(3_125)
    assert account.mean_power_watts() == pytest.approx(312.5)


def test_other_watts_skip_long_gaps():
    account = EnergyAccount("run", other_watts=100, max_gap_seconds=60)
    account.update({}, now=0.0)
    account.update({}, now=30.0)
    assert account.energy_joules() == pytest.approx(3_000)
    account.update({}, now=3_630.0)  # an hour without samples is not charged blindly
    assert account.energy_joules() == pytest.approx(3_000)


def test_nothing_counted_while_inactive():
    account = EnergyAccount("run", other_watts=10)
    account.update({"gpu": 0.0}, now=0.0)
    account.update({"gpu": 100.0}, now=1.0, active=False)
    account.update({"gpu": 150.0}, now=2.0)  # counts only from the inactive baseline
    assert account.energy_joules() == pytest.approx(60)
    account.update({"gpu": 250.0}, now=3.0, active=False)
    assert account.mean_power_watts() is None


def test_mean_power_uses_the_recent_window_and_projects():
    account = EnergyAccount("run", window_seconds=60)
    joules = 0.0
    account.update({"gpu": joules}, now=0.0)
    for t in range(1, 121):  # 100 W for two minutes, then 300 W for one minute
        joules += 100 if t <= 120 else 300
        account.update({"gpu": joules}, now=float(t))
    for t in range(121, 181):
        joules += 300
        account.update({"gpu": joules}, now=float(t))
    assert account.mean_power_watts() == pytest.approx(300)
    assert account.energy_joules() == pytest.approx(12_000 + 18_000)
    power = account.mean_power_watts()
    assert projected_joules(account.energy_joules(), power, 600) == pytest.approx(30_000 + 300 * 600)
    assert projected_joules(account.energy_joules(), power, None) is None
    assert projected_joules(0.0, EnergyAccount("other").mean_power_watts(), 600) is None


def test_state_file_round_trip(tmp_path):
    path = tmp_path / "state" / "energy.json"
    first = EnergyAccount("run-1", state_file=str(path), save_interval_seconds=15)
    assert not first.resumed and not first.has_data
    first.update({"gpu": 100.0}, now=0.0)
    first.update({"gpu": 1_100.0}, now=5.0)  # not yet due: debounced
    assert json.loads(path.read_text())["energy_joules"] == 0
    first.update({"gpu": 2_100.0}, now=20.0)
    assert json.loads(path.read_text())["energy_joules"] == pytest.approx(2_000)
    first.update({"gpu": 2_600.0}, now=21.0)
    first.flush()
    state = json.loads(path.read_text())
    assert state == {"version": 1, "run": "run-1", "energy_joules": pytest.approx(2_500),
                     "power_watts": pytest.approx(2_500 / 21), "readings": {"gpu": 2_600.0},
                     "updated_at": 21.0, "finished": False, "price_per_kwh": None, "currency": None}
    assert [p.name for p in path.parent.iterdir()] == ["energy.json"]  # no temporary file left

    # a restarted exporter (new process): the GPU counter went on to 2,700
    second = EnergyAccount("run-1", state_file=str(path))
    assert second.resumed and second.has_data
    assert second.energy_joules() == pytest.approx(2_500)
    second.update({"gpu": 2_700.0}, now=500.0)  # first update after start is saved at once
    assert second.energy_joules() == pytest.approx(2_600)
    # an exporter whose readings restart at zero: a reset, counted from the new value
    third = EnergyAccount("run-1", state_file=str(path))
    third.update({"gpu": 30.0}, now=900.0)
    assert third.energy_joules() == pytest.approx(2_600 + 30)


def test_state_of_another_run_is_not_resumed(tmp_path):
    path = tmp_path / "energy.json"
    path.write_text(json.dumps({"version": 1, "run": "old", "energy_joules": 9e9, "readings": {}}))
    account = EnergyAccount("new", state_file=str(path))
    assert not account.resumed and account.energy_joules() == 0
    account.update({"gpu": 1.0}, now=0.0)
    account.flush()
    saved = {state["run"]: state["energy_joules"] for state in json.loads(path.read_text())["runs"]}
    assert saved == {"new": 0.0, "old": 9e9}  # the other run's state is kept, not resumed


@pytest.mark.parametrize("content", ["not json", "[]", '{"run": "run", "energy_joules": -5, "readings": {}}',
                                     '{"run": "run", "energy_joules": "x", "readings": {}}'])
def test_broken_state_file_starts_from_zero(tmp_path, content):
    path = tmp_path / "energy.json"
    path.write_text(content)
    account = EnergyAccount("run", state_file=str(path))
    assert not account.resumed and account.energy_joules() == 0


def test_unwritable_state_file_does_not_break_accounting(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("")
    account = EnergyAccount("run", state_file=str(blocker / "energy.json"))  # parent is a file
    account.update({"gpu": 0.0}, now=0.0)
    account.update({"gpu": 10.0}, now=1.0)
    account.flush()
    assert account.energy_joules() == pytest.approx(10)
    assert "cannot write energy state file" in caplog.text
    assert not os.path.exists(blocker / "energy.json")


def test_energy_settings_come_from_the_config():
    config = Config(other_watts=80, psu_efficiency=0.9, state_file=None)
    running = RunSnapshot(run="run", format="nanogpt", log_path="train.log", state="running")
    energy = RunEnergy.open(energy_settings(config), running, now=0.0)
    energy.tick(running, {}, now=0.0)
    energy.tick(running, {}, now=9.0)
    assert energy.figures(running).joules == pytest.approx(800)


def test_a_stopped_run_counts_no_energy_and_a_new_training_counts_from_zero():
    running = RunSnapshot(run="run", format="nanogpt", log_path="train.log", state="running")
    energy = RunEnergy.open(energy_settings(Config(other_watts=100)), running, now=0.0)
    energy.tick(running, {}, now=0.0)
    energy.tick(running, {}, now=10.0)
    energy.tick(replace(running, state="crashed"), {}, now=20.0)
    energy.tick(replace(running, state="crashed"), {}, now=30.0)
    assert energy.figures(running).joules == pytest.approx(1_000)
    second = replace(running, generation=1)
    assert energy.figures(second).joules == 0  # not counted yet: nothing of the first run shows
    energy.tick(second, {}, now=30.0)
    energy.tick(second, {}, now=35.0)
    assert energy.figures(second).joules == pytest.approx(500)


def test_the_recent_power_is_saved_so_a_reader_of_the_state_file_projects_the_same(tmp_path):
    state = tmp_path / "energy.json"
    settings = energy_settings(Config(state_file=str(state)))
    running = RunSnapshot(run="run", format="nanogpt", log_path="train.log", state="running", eta_seconds=100.0)
    energy = RunEnergy.open(settings, running, now=0.0)
    for t in range(11):
        energy.tick(running, {"gpu": 50.0 * t}, now=float(t))
    energy.flush()
    saved = RunEnergy.saved(settings, running)
    assert saved.figures(running) == energy.figures(running)
    assert saved.figures(running).power_watts == pytest.approx(50)
    assert saved.figures(running).projected_joules == pytest.approx(500 + 50 * 100)
    assert RunEnergy.saved(settings, replace(running, run="other")) is None


def test_no_gpu_and_no_other_watts_is_no_data_rather_than_zero():
    account = EnergyAccount("r")
    account.update({}, now=1.0)
    account.update({}, now=2.0)
    assert not account.has_data
    other = EnergyAccount("r", other_watts=50.0)
    other.update({}, now=1.0)
    assert other.has_data


def test_restart_counts_a_new_run_from_zero_and_keeps_gpu_baselines(tmp_path):
    state = tmp_path / "energy.json"
    account = EnergyAccount("r", state_file=str(state))
    account.update({"GPU-1": 1000.0}, now=1.0)
    account.update({"GPU-1": 3000.0}, now=2.0, finished=True)
    assert account.energy_joules() == 2000.0
    account.restart("r#1", now=3.0)
    account.update({"GPU-1": 3500.0}, now=4.0)
    assert account.energy_joules() == 500.0
    account.flush()
    saved = json.loads(state.read_text())
    assert saved["run"] == "r#1" and saved["finished"] is False
    assert EnergyAccount("r#1", state_file=str(state)).energy_joules() == 500.0


def test_a_stalled_run_counts_energy_only_while_its_trainer_is_known_to_run():
    running = RunSnapshot(run="run", format="nanogpt", log_path="train.log", state="running")
    energy = RunEnergy.open(energy_settings(Config(other_watts=100)), running, now=0.0)
    energy.tick(running, {}, now=0.0)
    energy.tick(replace(running, state="stalled"), {}, now=10.0)  # silent: the trainer may be dead
    assert energy.figures(running).joules == 0
    energy.tick(replace(running, state="stalled", trainer_alive=True), {}, now=20.0)  # hung, still drawing power
    assert energy.figures(running).joules == pytest.approx(1_000)


def test_a_nan_loss_does_not_stop_the_count_while_the_trainer_goes_on():
    nan = RunSnapshot(run="run", format="nanogpt", log_path="train.log", state="crashed", loss_finite=False,
                      last_progress_timestamp=100.0, progress_timeout_seconds=30.0)
    assert trainer_running(nan, now=120.0)  # nan lines still coming
    assert not trainer_running(nan, now=140.0)  # silent past the timeout: the trainer has stopped
    assert trainer_running(replace(nan, trainer_alive=True), now=500.0)  # its process still runs
    assert not trainer_running(replace(nan, errors={"traceback": 1}), now=120.0)  # a real crash
