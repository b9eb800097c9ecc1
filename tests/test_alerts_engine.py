"""The exporter's own alert evaluation on literal run snapshots and a clock the test moves: each
training alert fires after its rule's for:, is announced once, repeats at the repeat interval (never
an info alert), is silenced as Alertmanager's inhibit rules say, and is resolved when it ends."""

from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from exporter.alerts.alert import BY_LABEL, RULES, SILENT_CRASH_FOR
from exporter.alerts.engine import FIRING, RESOLVED, AlertEngine
from exporter.alerts.run_rules import Spend
from exporter.run import RunSnapshot

T0 = 1_800_000_000.0
RUN = RunSnapshot(run="gpt2-small", format="nanogpt", log_path="/runs/train.log", state="running", iteration=500,
                  max_iterations=5000, eta_seconds=3900.0, last_progress_timestamp=T0, progress_timeout_seconds=120.0,
                  lines_read=600)


class Heard:
    """The notifier's side: every notification the engine gives it."""

    def __init__(self):
        self.notifications = []

    def notify(self, notification):
        self.notifications.append(notification)

    def counts(self):
        return {"heard#1": (len(self.notifications), 0)}

    def stop(self):
        pass

    def said(self):
        return [(n.status, n.alert.name) for n in self.notifications]


def engine(**settings):
    heard = Heard()
    return AlertEngine(notifier=heard, **settings), heard


def walk(alerts, snapshot, start, end, step=1.0):
    """Tick every ``step`` seconds from ``start`` to ``end`` with the same snapshot."""
    now = start
    while now <= end:
        alerts.tick(snapshot, (), now)
        now += step


def test_a_stall_fires_after_the_timeout_and_one_minute_once_and_resolves_on_progress():
    alerts, heard = engine()
    walk(alerts, RUN, T0, T0 + 120 + 59)  # the timeout, then the rule's for: 1m
    assert heard.said() == [] and alerts.firing() == []
    walk(alerts, RUN, T0 + 180, T0 + 600)
    assert heard.said() == [(FIRING, "TrainingStalled")]
    stalled = heard.notifications[0]
    assert stalled.since == T0 + 181  # past the timeout at T0 + 121, firing 60 s later
    assert stalled.alert.summary == "Run gpt2-small has printed no progress for 3 min"
    assert dict(stalled.alert.details) == {"Iteration": "500 / 5000", "ETA": "65 min", "Cost so far": "not measured"}
    assert [a["name"] for a in alerts.firing()] == ["TrainingStalled"]
    alerts.tick(replace(RUN, last_progress_timestamp=T0 + 601, iteration=505), (), T0 + 601)
    assert heard.said() == [(FIRING, "TrainingStalled"), (RESOLVED, "TrainingStalled")]
    assert heard.notifications[1].at == T0 + 601 and alerts.firing() == []


NAN = replace(RUN, state="crashed", loss_finite=False, nonfinite_losses=1)


def test_a_page_repeats_at_the_repeat_interval_while_it_lasts():
    alerts, heard = engine(repeat_seconds=3600)
    walk(alerts, NAN, T0, T0 + 2 * 3600 + 5, step=10)
    assert heard.said() == [(FIRING, "TrainingLossNotFinite")] * 3
    assert [n.at - T0 for n in heard.notifications] == [0, 3600, 7200]
    assert {n.since for n in heard.notifications} == {T0}


def test_a_repeat_interval_of_zero_never_repeats():
    alerts, heard = engine(repeat_seconds=0)
    walk(alerts, NAN, T0, T0 + 20000, step=60)
    assert heard.said() == [(FIRING, "TrainingLossNotFinite")]


def test_no_stall_after_the_run_ended_nor_within_the_timeout():
    for state in ("finished", "interrupted"):
        alerts, heard = engine()
        walk(alerts, replace(RUN, state=state), T0, T0 + 900, step=10)
        assert ("firing", "TrainingStalled") not in heard.said()
    alerts, heard = engine()
    walk(alerts, RUN, T0, T0 + 119)
    assert heard.said() == []


def test_an_oom_crash_fires_after_30_s_naming_the_oom_with_cost_so_far():
    crashed = replace(RUN, state="crashed", errors={"oom": 1})
    alerts, heard = engine(spend_of=lambda snapshot: Spend(3.6e6 * 0.5, 0.0725, "EUR"))
    walk(alerts, crashed, T0, T0 + 29)
    assert heard.said() == []
    walk(alerts, crashed, T0 + 30, T0 + 40)
    assert heard.said() == [(FIRING, "TrainingCrashed")]
    alert = heard.notifications[0].alert
    assert alert.summary == "Run gpt2-small crashed (CUDA out of memory)" and alert.label("cause") == "error"
    assert "the log ends with a CUDA out-of-memory error" in alert.description
    assert "lower batch_size" in alert.description
    assert dict(alert.details)["Cost so far"] == "0.072 EUR"


@pytest.mark.parametrize(("errors", "reason"), [
    ({"traceback": 1}, "the log ends with a Python traceback"),
    ({"killed": 1}, "the trainer's process ended short of max_iters (killed)"),
])
def test_a_crash_says_its_reason(errors, reason):
    alerts, heard = engine()
    walk(alerts, replace(RUN, state="crashed", errors=errors), T0, T0 + 30)
    assert heard.notifications[0].alert.summary == "Run gpt2-small crashed"
    assert reason in heard.notifications[0].alert.description


def test_a_pending_crash_fires_at_exit_once_the_trainer_has_ended():
    alerts, heard = engine()
    walk(alerts, replace(RUN, state="crashed", errors={"exited": 1}, trainer_alive=False), T0, T0 + 5)
    assert heard.said() == []
    alerts.stop(T0 + 6)
    assert heard.said() == [(FIRING, "TrainingCrashed")]


def test_a_pending_stall_does_not_fire_at_exit_while_the_trainer_may_run():
    alerts, heard = engine()
    walk(alerts, RUN, T0, T0 + 150)
    alerts.stop(T0 + 151)
    assert heard.said() == []


def test_a_crash_silences_the_stall_and_its_resolution():
    alerts, heard = engine()
    walk(alerts, RUN, T0, T0 + 200)
    assert heard.said() == [(FIRING, "TrainingStalled")]
    crashed = replace(RUN, state="crashed", errors={"process_gone": 1})
    walk(alerts, crashed, T0 + 201, T0 + 240)
    assert heard.said() == [(FIRING, "TrainingStalled"), (FIRING, "TrainingCrashed")]


def test_a_crash_that_never_fires_lets_the_stall_resolve():
    alerts, heard = engine()
    walk(alerts, RUN, T0, T0 + 200)
    walk(alerts, replace(RUN, state="crashed", errors={"traceback": 1}), T0 + 201, T0 + 210)
    assert heard.said() == [(FIRING, "TrainingStalled")]
    alerts.tick(replace(RUN, last_progress_timestamp=T0 + 211, iteration=505), (), T0 + 211)
    assert heard.said() == [(FIRING, "TrainingStalled"), (RESOLVED, "TrainingStalled")]


def test_a_silent_death_without_a_known_pid_pages_a_crash_after_15_minutes_of_no_line_at_all():
    alerts, heard = engine()
    walk(alerts, RUN, T0, T0 + 900 + SILENT_CRASH_FOR + 10, step=5)
    crash = [n.alert for n in heard.notifications if n.alert.name == "TrainingCrashed"]
    assert len(crash) == 1 and crash[0].label("cause") == "silent"
    assert crash[0].summary == "Run gpt2-small went silent before max_iters: the trainer has probably died"
    assert heard.said()[0] == (FIRING, "TrainingStalled")  # silenced by the crash from then on
    assert [a["name"] for a in alerts.firing()] == ["TrainingCrashed"]


def test_lines_of_any_kind_keep_the_silent_crash_away():
    alerts, heard = engine()
    for second in range(0, 1200, 5):
        alerts.tick(replace(RUN, lines_read=600 + second // 60), (), T0 + second)  # a line a minute, no progress
    assert [name for _, name in heard.said()] == ["TrainingStalled"]


def test_a_nan_loss_fires_at_once_and_stays_until_a_finite_one():
    alerts, heard = engine()
    alerts.tick(RUN, (), T0)
    walk(alerts, NAN, T0 + 1, T0 + 3000, step=30)
    assert heard.said() == [(FIRING, "TrainingLossNotFinite")]
    assert "has logged 1 nan/inf loss value(s)" in heard.notifications[0].alert.description
    walk(alerts, replace(RUN, nonfinite_losses=1, last_progress_timestamp=T0 + 3001), T0 + 3001, T0 + 3010)
    assert heard.said() == [(FIRING, "TrainingLossNotFinite"), (RESOLVED, "TrainingLossNotFinite")]


def test_a_nan_eval_loss_fires_for_ten_minutes():
    alerts, heard = engine()
    alerts.tick(RUN, (), T0)
    for second in range(1, 700, 10):
        alerts.tick(replace(RUN, nonfinite_losses=2, last_progress_timestamp=T0 + second), (), T0 + second)
    assert heard.said() == [(FIRING, "TrainingLossNotFinite"), (RESOLVED, "TrainingLossNotFinite")]
    assert heard.notifications[1].at == pytest.approx(T0 + 1 + 600, abs=10)


def test_nan_losses_already_in_the_log_at_start_are_no_news():
    alerts, heard = engine()
    walk(alerts, replace(RUN, nonfinite_losses=3, last_progress_timestamp=T0 + 100), T0, T0 + 100)
    assert heard.said() == []


def test_a_finish_is_said_once_with_its_figures_never_repeated_nor_resolved():
    done = replace(RUN, state="finished", iteration=5000, eta_seconds=0.0, eval_losses={"val": 3.28125},
                   elapsed_seconds=7380.0)
    alerts, heard = engine(repeat_seconds=60, spend_of=lambda snapshot: Spend(3.6e6 * 1.234, 0.185, "USD"))
    alerts.tick(RUN, (), T0 - 1)
    walk(alerts, done, T0, T0 + 3600, step=30)
    alerts.tick(replace(done, state="running", iteration=0, generation=1), (), T0 + 3601)
    assert heard.said() == [(FIRING, "TrainingFinished")]
    description = heard.notifications[0].alert.description
    assert ("reached iteration 5000. Final val loss 3.2812, wall time 2 h 03 min, energy 1.23 kWh, cost 0.18 USD"
            in description)


def test_a_log_that_had_finished_before_the_exporter_started_is_no_news():
    done = replace(RUN, state="finished", iteration=5000)
    alerts, heard = engine()
    walk(alerts, done, T0, T0 + 60)
    assert heard.said() == [] and [a["name"] for a in alerts.firing()] == ["TrainingFinished"]
    walk(alerts, replace(RUN, last_progress_timestamp=T0 + 61, generation=1), T0 + 61, T0 + 70)
    walk(alerts, replace(done, generation=1), T0 + 71, T0 + 80)  # a new run in the same log, finished
    assert heard.said() == [(FIRING, "TrainingFinished")]


def test_a_finished_log_first_read_in_chunks_is_no_news_either():
    alerts, heard = engine()
    walk(alerts, replace(RUN, last_progress_timestamp=None), T0, T0 + 5)  # the read back is under way
    walk(alerts, replace(RUN, state="finished", iteration=5000, last_progress_timestamp=T0 - 3600), T0 + 6, T0 + 60)
    assert heard.said() == [] and [a["name"] for a in alerts.firing()] == ["TrainingFinished"]
    walk(alerts, replace(RUN, last_progress_timestamp=T0 + 61, generation=1), T0 + 61, T0 + 70)
    walk(alerts, replace(RUN, state="finished", iteration=5000, last_progress_timestamp=T0 + 75, generation=1),
         T0 + 76, T0 + 80)  # a finish seen live: said
    assert heard.said() == [(FIRING, "TrainingFinished")]


def test_an_unreadable_log_fires_after_two_minutes():
    unreadable = replace(RUN, state="waiting", log_problem="cannot read /runs/train.log: permission denied",
                         last_progress_timestamp=None)
    alerts, heard = engine()
    walk(alerts, unreadable, T0, T0 + 119)
    assert heard.said() == []
    alerts.tick(unreadable, (), T0 + 120)
    assert heard.said() == [(FIRING, "TrainingLogUnreadable")]
    assert "permission denied" in heard.notifications[0].alert.description


def test_the_for_cap_shortens_every_delay():
    alerts, heard = engine(for_cap_seconds=2)
    walk(alerts, RUN, T0, T0 + 123)
    assert heard.said() == [(FIRING, "TrainingStalled")]


def test_without_a_notifier_the_engine_still_says_what_fires():
    alerts = AlertEngine()
    walk(alerts, RUN, T0, T0 + 200, step=10)
    assert alerts.firing() == [{"name": "TrainingStalled", "severity": "critical",
                                "summary": "Run gpt2-small has printed no progress for 3 min", "since": T0 + 190}]
    assert alerts.delivery_counts() is None


def _shipped_rules():
    rules = {}
    for path in sorted((Path(__file__).resolve().parent.parent / "prometheus" / "rules").glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:  # not the recording rules the alerts read
                    rules.setdefault(rule["alert"], []).append(rule)
    return rules


def _seconds(duration):
    return {"s": 1, "m": 60, "h": 3600}[duration[-1]] * int(duration[:-1])


def test_the_exporters_rules_have_the_prometheus_rules_names_severities_and_delays():
    shipped = _shipped_rules()
    for name, rule in RULES.items():
        delays = {_seconds(r.get("for", "0s")) for r in shipped[name]}
        by_label = {severity for (alert, _, _), (severity, _, _) in BY_LABEL.items() if alert == name}
        assert {r["labels"]["severity"] for r in shipped[name]} == {rule.severity} | by_label, name
        assert rule.for_seconds in delays, name
    for (name, label, value), (severity, delay, _) in BY_LABEL.items():
        (labelled,) = [r for r in shipped[name] if r["labels"].get(label) == value]
        assert (labelled["labels"]["severity"], _seconds(labelled.get("for", "0s"))) == (severity, delay), name
    silent = next(r for r in shipped["TrainingCrashed"] if r["labels"].get("cause") == "silent")
    assert _seconds(silent["for"]) == SILENT_CRASH_FOR
