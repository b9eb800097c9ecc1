"""The cost budget (--budget): TrainingOverBudget as a warning said once when the cost projected at
the finish is over it for 10 minutes, as a page when the cost so far is; the budget in the
exposition; the Slack texts."""

from dataclasses import replace

from exporter.alerts.engine import AlertEngine
from exporter.alerts.run_rules import Spend
from exporter.collectors.base import CollectorStats
from exporter.commands.config import Config
from exporter.notify.messages import text, title
from test_alerts_engine import Heard
from test_alerts_gpu import RUN, T0
from test_energy_collector import account_at_200_watts, energy_collector, running_snapshot
from test_training_collector import exposition


def play(spend_at, seconds, snapshot=RUN, step=15):
    """Tick every ``step`` s with ``spend_at(t)``; the notifications heard."""
    heard = Heard()
    engine = AlertEngine(notifier=heard, repeat_seconds=3600, spend_of=lambda s: spend_at(now[0] - T0))
    now = [T0]
    while now[0] <= T0 + seconds:
        engine.tick(snapshot, (), now[0])
        now[0] += step
    return heard.notifications


def spend(cost, projected, budget=5.0):
    return Spend(joules=3.6e6 * cost / 0.25, cost=cost, currency="EUR", projected_cost=projected, budget=budget)


def test_a_projection_over_the_budget_warns_once_after_10_minutes():
    heard = play(lambda t: spend(2.0, 5.6 if t < 9000 else 4.0), 4 * 3600)
    assert [(n.status, n.alert.severity, n.at - T0) for n in heard] == [("firing", "warning", 600)]
    (warning,) = heard
    assert title(warning) == "WARNING: TrainingOverBudget · run gpt2"
    assert text(warning, "http://page").startswith(
        "*Run gpt2 will cost more than its budget of 5.00 EUR*\nRun gpt2 will cost about 5.60 EUR at the finish at "
        "its recent power and ETA, over its budget of 5.00 EUR (spent so far: 2.00 EUR). Check first:")


def test_a_projection_that_dips_under_the_budget_within_10_minutes_says_nothing():
    assert play(lambda t: spend(2.0, 5.6 if (t // 300) % 2 == 0 else 4.9), 3600) == []


def test_the_cost_so_far_over_the_budget_pages_after_a_minute_and_silences_the_projection():
    heard = play(lambda t: spend(4.0 + t / 3600, 6.0), 2 * 3600)
    fired = [(n.alert.label("basis"), n.alert.severity, n.at - T0) for n in heard if n.status == "firing"]
    assert fired == [("projected", "warning", 600), ("spent", "critical", 3675)]  # no "resolved" for the projection
    page = next(n for n in heard if n.alert.label("basis") == "spent")
    assert text(page, "http://page").startswith(
        "*Run gpt2 has spent more than its budget of 5.00 EUR*\nRun gpt2 has cost 5.02 EUR in electricity so far, over "
        "its budget of 5.00 EUR. Check first: whether the run is worth finishing")


def test_no_budget_alert_without_a_budget_or_once_the_run_ended():
    assert play(lambda t: spend(9.0, 9.0, budget=None), 900) == []
    assert play(lambda t: spend(9.0, 9.0), 900, snapshot=replace(RUN, state="finished")) == []


def test_the_budget_is_in_the_exposition_with_its_currency():
    stats = CollectorStats()
    config = Config(budget=12.5, currency="EUR")
    text = exposition(energy_collector(account_at_200_watts(), running_snapshot, config, stats))
    assert 'training_budget{currency="EUR",run="small"} 12.5' in text
    assert "training_budget" not in exposition(energy_collector(account_at_200_watts(), running_snapshot,
                                                                Config(), stats))
