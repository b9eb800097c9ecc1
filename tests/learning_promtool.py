"""A promtool rule test built from a replay (:mod:`learning_replay`): the series the exporter
exposed every 15 s as input, and as expected alerts at each eval time the exporter's own engine's
firing learning alerts with their texts, so promtool checks that both agree."""

from __future__ import annotations

from learning_replay import SCRAPE_SECONDS, Replay

LEARNING_ALERTS = ("TrainingLossSpike", "TrainingGradNormSpike", "TrainingDiverging", "TrainingOverfitting")
# the ETA is left out: the engine writes it as "9 min", Prometheus' humanizeDuration as "8m 39s"
WANTED = ("training_loss_", "training_grad_norm", "training_val_loss_worse_evals", "training_state",
          "training_iteration", "training_max_iterations", "training_best_val_loss")


def _values(replay: Replay, series: str) -> str:
    values = [scrape.get(series) for scrape in replay.scrapes]
    return " ".join("_" if v is None else "Inf" if v == float("inf") else repr(v) for v in values)


def _expected(replay: Replay, at: float) -> list[dict]:
    """The alert_rule_test cases at ``at`` seconds: each learning alert, firing or not, as the engine says."""
    cases = []
    for name in LEARNING_ALERTS:
        firing = [a for a in replay.firing.get(at, []) if a["name"] == name]
        alerts = []
        for alert in firing:
            active = replay.active[at][name]
            details = dict(active.details)
            alerts.append({"exp_labels": {"severity": alert["severity"], "job": "training-exporter",
                                          "instance": "exporter:9842", "run": "gpt"},
                           "exp_annotations": {"summary": active.summary, "description": active.description,
                                               "iteration": details["Iteration"], "eta": "unknown",
                                               "cost": details["Cost so far"]}})
        cases.append({"eval_time": f"{int(at)}s", "alertname": name, "exp_alerts": alerts})
    return cases


def stable_times(replay: Replay) -> list[float]:
    """Scrape times at which the engine's firing learning alerts are the same 30 s before and after
    (the engine ticks every 5 s, Prometheus evaluates every 15 s: a ``for:`` may end a tick apart)."""
    times = sorted(replay.firing)
    names = {at: sorted(a["name"] for a in replay.firing[at] if a["name"] in LEARNING_ALERTS) for at in times}
    return [at for i, at in enumerate(times[2:-2], 2) if names[times[i - 2]] == names[at] == names[times[i + 2]]]


def rule_test(name: str, replay: Replay, eval_times: list[float]) -> dict:
    series = sorted({s for scrape in replay.scrapes for s in scrape if s.startswith(WANTED)})
    return {"name": name, "interval": f"{int(SCRAPE_SECONDS)}s",
            "input_series": [{"series": s, "values": _values(replay, s)} for s in series],
            "alert_rule_test": [case for at in eval_times for case in _expected(replay, at)]}
