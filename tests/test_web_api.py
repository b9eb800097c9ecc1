"""The page's data (exporter/web/api.py, history.py): what /api/run holds, and the bounded history."""

from __future__ import annotations

import json
import logging
import math

import pytest

from exporter.energy import EnergyAccount, EnergySettings, RunEnergy
from exporter.gpu import GpuReading
from exporter.run import RunSnapshot
from exporter.web import History, RunApi
from exporter.web.history import COLUMNS

KWH = 3.6e6
NOW = 10_000.0


def snapshot(**changes) -> RunSnapshot:
    values = dict(run="small", format="nanogpt", log_path="train.log", state="running", iteration=1300,
                  max_iterations=20_000, progress_ratio=0.065, loss=3.2, eval_losses={"val": 3.4},
                  iteration_seconds=0.17, eta_seconds=3_400.0, eta_low_seconds=3_300.0, eta_high_seconds=3_500.0,
                  expected_end_timestamp=NOW + 3_400, trainer_config={"wandb_api_key": "k-secret"},
                  sources={"max_iterations": "log"})
    values.update(changes)
    return RunSnapshot(**values)


def energy_at_200_watts() -> RunEnergy:
    account = EnergyAccount("small", window_seconds=300)
    for minute in range(61):  # one GPU at 200 W for an hour: 0.2 kWh
        account.update({"GPU-1": 200.0 * 60 * minute}, now=1_000.0 + 60 * minute)
    return RunEnergy(EnergySettings(price_per_kwh=0.30, currency="EUR", carbon_g_per_kwh=400), account)


def gpu(**changes) -> GpuReading:
    values = dict(index=0, uuid="GPU-1", name="NVIDIA GeForce RTX 4090", power_watts=285.0, power_limit_watts=450.0,
                  temperature_celsius=71.0, temperature_thresholds_celsius={"slowdown": 92.0, "shutdown": 95.0},
                  memory_used_bytes=18 << 30, memory_total_bytes=24 << 30, utilization_ratio=0.97,
                  clock_events_active={"gpu_idle": False, "sw_power_cap": True, "hw_slowdown": False})
    values.update(changes)
    return GpuReading(**values)


def api(s: RunSnapshot | None = None, **kwargs) -> RunApi:
    s = s or snapshot()
    return RunApi(lambda: s, clock=lambda: NOW, **kwargs)


def test_run_energy_and_gpus_from_one_snapshot():
    payload = json.loads(api(energy=energy_at_200_watts(), readings=lambda: [gpu()]).json())
    run = payload["run"]
    assert (run["run"], run["state"], run["iteration"], run["eta_seconds"]) == ("small", "running", 1300, 3_400.0)
    eta_range = (run["eta_low_seconds"], run["eta_high_seconds"], run["expected_end_timestamp"])
    assert eta_range == (3_300, 3_500, NOW + 3_400)
    energy = payload["energy"]
    projected = 0.2 * KWH + 200 * 3_400
    assert energy["joules"] == pytest.approx(0.2 * KWH) and energy["cost"] == pytest.approx(0.06)
    assert energy["projected_joules"] == pytest.approx(projected)
    assert energy["projected_cost"] == pytest.approx(projected / KWH * 0.30)
    assert energy["projected_emissions_grams"] == pytest.approx(projected / KWH * 400)
    assert (energy["currency"], energy["counting"]) == ("EUR", True)
    assert payload["gpus"] == [{
        "index": 0, "name": "NVIDIA GeForce RTX 4090", "up": True, "power_watts": 285.0, "power_limit_watts": 450.0,
        "temperature_celsius": 71.0, "slowdown_celsius": 92.0, "shutdown_celsius": 95.0,
        "memory_used_bytes": 18 << 30, "memory_total_bytes": 24 << 30, "utilization_ratio": 0.97,
        "clock_events": ["sw_power_cap"],
    }]
    assert payload["now"] == NOW and payload["alerts"] == []


def test_no_trainer_settings_in_it():
    text = api().json().decode()
    assert "k-secret" not in text and "trainer_config" not in text and "sources" not in text


def test_numbers_that_are_not_finite_are_null():
    payload = json.loads(api(snapshot(loss=math.inf, eta_seconds=math.nan)).json())  # strict JSON parses it
    assert payload["run"]["loss"] is None and payload["run"]["eta_seconds"] is None


def test_firing_alerts_are_passed_on_with_their_four_fields_only():
    alerts = [{"name": "TrainingStalled", "severity": "critical", "summary": "no progress for 16 min",
               "since": 9_000, "extra": "not shown"}, {"name": "GpuHot", "since": "soon"}]
    payload = api(alerts=lambda: alerts).payload()
    assert payload["alerts"] == [
        {"name": "TrainingStalled", "severity": "critical", "summary": "no progress for 16 min", "since": 9_000.0},
        {"name": "GpuHot", "severity": None, "summary": None, "since": None},
    ]
    many = api(alerts=lambda: ({"name": f"a{n}"} for n in range(1_000))).payload()["alerts"]
    assert len(many) == 50


def test_a_failing_part_is_null_and_logged_once_the_rest_stays(caplog):
    def broken():
        raise RuntimeError("alert engine down")

    page = api(alerts=broken, readings=lambda: [gpu()])
    with caplog.at_level(logging.ERROR):
        first, second = page.payload(), page.payload()
    assert first["alerts"] is None and second["alerts"] is None
    assert first["gpus"][0]["name"] == "NVIDIA GeForce RTX 4090" and first["run"]["state"] == "running"
    assert [r.getMessage() for r in caplog.records] == ["the page's alerts failed: alert engine down"]


def test_sample_records_the_snapshot_and_the_gpus_power():
    page = api(readings=lambda: [gpu(), gpu(index=1, uuid="GPU-2", power_watts=300.0), gpu(up=False)])
    page.sample()
    history = page.payload()["history"]
    assert history["columns"] == list(COLUMNS)
    assert history["points"] == [[NOW, 1300, 3.2, 3.4, 0.17, 285.0 + 300.0]]  # a lost GPU draws nothing


def test_history_keeps_a_point_per_advance_and_a_nan_loss_as_null():
    history = History()
    history.record(snapshot(iteration=None), None, 1.0)
    history.record(snapshot(iteration=10), 100.0, 2.0)
    history.record(snapshot(iteration=10), 100.0, 3.0)  # no advance
    history.record(snapshot(iteration=10, eval_losses={"val": 3.3}), 100.0, 4.0)  # an eval at the same iteration
    history.record(snapshot(iteration=20, loss_finite=False), None, 5.0)
    assert [(p[0], p[1], p[2], p[3]) for p in history.points()] == [
        (2.0, 10, 3.2, 3.4), (4.0, 10, 3.2, 3.3), (5.0, 20, None, 3.4)]


def test_history_is_bounded_and_still_covers_the_whole_run():
    history = History(max_points=100)
    for iteration in range(10_001):
        history.record(snapshot(iteration=iteration), None, float(iteration))
    iterations = [p[1] for p in history.points()]
    assert 50 <= len(iterations) <= 100
    assert iterations[0] == 0 and iterations[-1] == 10_000  # the start and the latest point
    gaps = [b - a for a, b in zip(iterations, iterations[1:])]
    assert len(set(gaps[:-1])) == 1 and gaps[-1] <= gaps[0]  # evenly thinned, then the latest point


def test_a_new_run_starts_a_new_history_and_a_resumed_one_drops_what_it_redoes():
    history = History()
    for iteration in (10, 20, 30, 40):
        history.record(snapshot(iteration=iteration), None, float(iteration))
    history.record(snapshot(iteration=25), None, 50.0)  # resumed from a checkpoint at 25
    assert [p[1] for p in history.points()] == [10, 20, 25]
    history.record(snapshot(iteration=5, generation=1), None, 60.0)  # trained again from scratch
    assert [p[1] for p in history.points()] == [5]


def test_the_health_part_lists_the_loss_spikes_latest_last_and_a_nan_one_at_its_baseline():
    from exporter.health import LearningHealth, Spike, SpikeReport

    spikes = (Spike(1200, 9.6, 3.0, 3.2), Spike(1500, None, math.inf, 3.1))
    learning = LearningHealth(loss=SpikeReport(spikes=2, last=spikes[-1], baseline=3.1, recent=spikes))
    payload = RunApi(lambda: snapshot(learning=learning), clock=lambda: NOW).payload()
    assert payload["health"]["loss_spikes"] == [{"iteration": 1200, "loss": 9.6, "finite": True},
                                                {"iteration": 1500, "loss": 3.1, "finite": False}]
    assert payload["health"]["loss_baseline"] == 3.1 and payload["health"]["diverging"] is None
    json.loads(RunApi(lambda: snapshot(learning=learning), clock=lambda: NOW).json())
