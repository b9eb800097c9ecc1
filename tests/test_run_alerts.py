"""The alerts of several runs in one exporter: one engine per run, one notifier for all; a run's GPU
alerts come from the GPUs its processes are on, and a lone run keeps every GPU of the node."""

from dataclasses import replace
from types import SimpleNamespace

from exporter.alerts import AlertSettings
from exporter.alerts.engine import FIRING
from exporter.alerts.runs import RunAlerts
from exporter.health.slowdown_cause import SlowdownEvidence
from exporter.run_set.attribution import GpuShares
from exporter.run_set.checkpoints import CheckpointProbe
from test_alerts_engine import Heard
from test_alerts_gpu import GPU, RUN, T0

NO_SPEND = SimpleNamespace(has_data=False)
HOT = replace(GPU, temperature_celsius=93.0, clock_events_active={**GPU.clock_events_active, "sw_thermal_slowdown": True})


def entry(name, **changes):
    snapshot = replace(RUN, run=name, **changes)
    return SimpleNamespace(name=name, snapshot=lambda: snapshot, energy=NO_SPEND, slowdown=SlowdownEvidence(),
                           checkpoints=CheckpointProbe())


def tick_for(alerts, entries, shares, readings, seconds):
    for t in range(0, seconds + 1, 5):
        alerts.tick(entries, shares, readings, T0 + t)


def fired(heard):
    return sorted((n.run, n.alert.name) for n in heard.notifications if n.status == FIRING)


def test_each_run_pages_for_itself_through_one_notifier():
    heard = Heard()
    alerts = RunAlerts(AlertSettings(), heard)
    runs = [entry("alpha", state="crashed", errors={"oom": 1}), entry("beta")]
    tick_for(alerts, runs, GpuShares({}, {}), (), 60)
    assert fired(heard) == [("alpha", "TrainingCrashed")]
    assert [a["name"] for a in alerts.firing("alpha")] == ["TrainingCrashed"]
    assert alerts.firing("beta") == [] and len(alerts.firing()) == 1
    assert alerts.delivery_counts() == {"heard#1": (1, 0)}


def test_a_hot_gpu_alerts_the_run_on_it_and_not_the_other():
    heard = Heard()
    alerts = RunAlerts(AlertSettings(), heard)
    shares = GpuShares({GPU.uuid: {"alpha": 1.0}}, {})
    tick_for(alerts, [entry("alpha"), entry("beta")], shares, (HOT,), 600)
    assert fired(heard) == [("alpha", "GpuThermalThrottling")]


def test_a_lone_run_hears_of_every_gpu_of_the_node_even_one_it_does_not_use():
    heard = Heard()
    alerts = RunAlerts(AlertSettings(), heard)
    tick_for(alerts, [entry("alpha")], GpuShares({}, {}), (HOT,), 600)
    assert fired(heard) == [("alpha", "GpuThermalThrottling")]


def test_a_run_no_longer_followed_has_no_alerts_left():
    alerts = RunAlerts(AlertSettings(), None)
    crashed = entry("alpha", state="crashed", errors={"oom": 1})
    tick_for(alerts, [crashed, entry("beta")], GpuShares({}, {}), (), 60)
    assert len(alerts.firing()) == 1 and alerts.delivery_counts() is None
    alerts.tick([entry("beta")], GpuShares({}, {}), (), T0 + 70)
    assert alerts.firing() == []
