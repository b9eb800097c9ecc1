"""Energy collector: the "Energy and cost" metrics, scraped through a real registry."""

import subprocess

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from exporter.collectors.base import CollectorStats, SnapshotCollectors
from exporter.collectors.energy import EnergyCollector
from exporter.commands.config import Config
from exporter.energy import EnergyAccount, RunEnergy
from exporter.run import RunSnapshot
from exporter.commands.serve import energy_settings

KWH = 3.6e6


def scrape(collector):
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    samples = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def energy_collector(account, snapshot, config, stats):
    """The energy collector of ``account`` under ``config``, fed ``snapshot()`` on each scrape."""
    return SnapshotCollectors(snapshot, [EnergyCollector(RunEnergy(energy_settings(config), account), stats)], stats)


def running_snapshot(**changes):
    values = dict(
        run="small", format="nanogpt", log_path="train.log", state="running", iteration=1300,
        max_iterations=20_000, iteration_seconds=0.17, eval_interval=500, eval_overhead_seconds=5.8,
        eta_seconds=3_400.0, parameters=40.56e6, tokens_planned=10_485_760_000,
    )
    values.update(changes)
    return RunSnapshot(**values)


def account_at_200_watts():
    # one GPU at 200 W for one hour, sampled each minute: 0.2 kWh
    account = EnergyAccount("small", window_seconds=300)
    for minute in range(61):
        account.update({"GPU-1": 200.0 * 60 * minute}, now=1_000.0 + 60 * minute)
    return account


def test_energy_cost_and_projection():
    stats = CollectorStats()
    config = Config(price_per_kwh=0.30, currency="EUR", carbon_g_per_kwh=400)
    samples = scrape(energy_collector(account_at_200_watts(), running_snapshot, config, stats))
    run = (("run", "small"),)
    money = (("currency", "EUR"), ("run", "small"))
    assert samples[("training_energy_joules_total", run)] == pytest.approx(0.2 * KWH)
    assert samples[("training_power_watts", run)] == pytest.approx(200)
    projected = 0.2 * KWH + 200 * 3_400
    assert samples[("training_energy_projected_joules", run)] == pytest.approx(projected)
    assert samples[("training_electricity_cost", money)] == pytest.approx(0.2 * 0.30)
    assert samples[("training_electricity_cost_projected", money)] == pytest.approx(projected / KWH * 0.30)
    assert samples[("training_emissions_grams", run)] == pytest.approx(0.2 * 400)
    assert samples[("training_emissions_projected_grams", run)] == pytest.approx(projected / KWH * 400)
    # scenario 1's plan: 6 · 40.56M · 10.49B tokens
    assert samples[("training_plan_flops", run)] == pytest.approx(2.5518e18, rel=1e-4)
    # planned wall time: 20,000 × 0.17 s + 41 evals × 5.8 s = 3,637.8 s at 200 W
    assert samples[("training_plan_energy_joules", run)] == pytest.approx(200 * (20_000 * 0.17 + 41 * 5.8))
    assert stats.snapshot()["energy"][0] is True


def test_emissions_left_out_without_carbon_intensity():
    samples = scrape(energy_collector(account_at_200_watts(), running_snapshot, Config(), CollectorStats()))
    names = {name for name, _ in samples}
    assert "training_emissions_grams" not in names
    assert "training_emissions_projected_grams" not in names
    assert samples[("training_electricity_cost", (("currency", "USD"), ("run", "small")))] == pytest.approx(0.03)


def test_finished_run_projects_what_it_spent():
    snapshot = running_snapshot(state="finished", eta_seconds=None)
    samples = scrape(energy_collector(account_at_200_watts(), lambda: snapshot, Config(), CollectorStats()))
    assert samples[("training_energy_projected_joules", (("run", "small"),))] == pytest.approx(0.2 * KWH)


def test_unknown_eta_and_power_are_left_out_not_nan():
    account = EnergyAccount("small")
    account.update({"GPU-1": 0.0}, now=0.0)
    snapshot = running_snapshot(eta_seconds=None, iteration_seconds=None)
    samples = scrape(energy_collector(account, lambda: snapshot, Config(), CollectorStats()))
    names = {name for name, _ in samples}
    assert "training_energy_joules_total" in names
    assert not names & {"training_power_watts", "training_energy_projected_joules",
                        "training_electricity_cost_projected", "training_plan_energy_joules"}
    assert all(value == value for value in samples.values())  # no NaN


def test_no_energy_source_yet_is_success_0():
    stats = CollectorStats()
    snapshot = running_snapshot(parameters=None)
    samples = scrape(energy_collector(EnergyAccount("small"), lambda: snapshot, Config(), stats))
    assert samples == {}
    assert stats.snapshot()["energy"][0] is False


def test_broken_snapshot_does_not_break_the_scrape():
    def broken():
        raise RuntimeError("no run model")

    stats = CollectorStats()
    assert scrape(energy_collector(account_at_200_watts(), broken, Config(), stats)) == {}
    assert stats.snapshot()["energy"][0] is False


def test_exposition_passes_promtool_lint():
    registry = CollectorRegistry(auto_describe=False)
    config = Config(carbon_g_per_kwh=300)
    registry.register(energy_collector(account_at_200_watts(), running_snapshot, config, CollectorStats()))
    text = generate_latest(registry)
    assert b"training_energy_joules_total" in text
    checked = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, timeout=30)
    assert checked.returncode == 0, checked.stdout + checked.stderr
