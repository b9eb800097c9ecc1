"""The GPU alerts the exporter evaluates itself, on literal readings and a clock the test moves:
the conditions, windows and for: of prometheus/rules/gpu-alerts.yml and their inhibitions."""

from dataclasses import replace

import pytest

from exporter.alerts.engine import FIRING, RESOLVED, AlertEngine
from exporter.alerts.history import linear_fit
from exporter.gpu.reading import GpuReading
from exporter.run import RunSnapshot
from test_alerts_engine import Heard

T0 = 1_800_000_000.0
GIB = 2**30
RUN = RunSnapshot(run="gpt2", format="nanogpt", log_path="/runs/train.log", state="running", iteration=10,
                  max_iterations=5000, last_progress_timestamp=T0 + 10**6, progress_timeout_seconds=120.0)
CALM = {"gpu_idle": False, "sw_power_cap": True, "hw_slowdown": False, "sw_thermal_slowdown": False,
        "hw_thermal_slowdown": False, "hw_power_brake_slowdown": False}
GPU = GpuReading(index=0, uuid="GPU-4090", name="NVIDIA GeForce RTX 4090", memory_used_bytes=int(22.3 * GIB),
                 memory_total_bytes=24 * GIB, temperature_celsius=71.0,
                 temperature_thresholds_celsius={"shutdown": 95.0, "slowdown": 92.0}, clock_events_active=CALM)


def run_gpu(readings_at, start, end, step=5.0, snapshot=RUN):
    """Tick with ``readings_at(t)`` (seconds since start) from ``start`` to ``end``; what was said."""
    heard = Heard()
    alerts = AlertEngine(notifier=heard)
    t = start
    while t <= end:
        alerts.tick(snapshot, readings_at(t), T0 + t)
        t += step
    return heard, alerts


def test_a_steady_93_percent_is_the_caching_allocator_and_never_fires():
    heard, _ = run_gpu(lambda t: (GPU,), 0, 3600)
    assert heard.said() == []


def test_memory_above_95_percent_for_5_minutes_fires_with_the_figures():
    full = replace(GPU, memory_used_bytes=int(23.5 * GIB))
    heard, _ = run_gpu(lambda t: (full,), 0, 295)
    assert heard.said() == []
    heard, alerts = run_gpu(lambda t: (full,), 0, 305)
    assert heard.said() == [(FIRING, "GpuMemoryNearlyFull")]
    alert = heard.notifications[0].alert
    assert alert.summary == "GPU 0 is running out of memory (98% used)"
    assert "has 23.5 GiB of 24.0 GiB in use" in alert.description
    assert dict(alert.details) == {"Run": "gpt2", "GPU": "NVIDIA GeForce RTX 4090"}
    assert dict(alert.labels) == {"gpu": "0", "uuid": "GPU-4090"}


def test_memory_still_climbing_from_a_steady_state_fires_before_it_is_full():
    def climbing(t):  # 16 GiB at the start, 6 MiB more every second: full in about 20 min
        return (replace(GPU, memory_used_bytes=int(16 * GIB + t * 6 * 2**20)),)

    heard, _ = run_gpu(climbing, 0, 1200)
    assert heard.said() == [(FIRING, "GpuMemoryNearlyFull")]
    fired = heard.notifications[0].at - T0
    # the trend reaches the total within 10 min after 765 s (4592 MiB more), then for: 5m; not yet above 95 %
    assert 765 + 300 <= fired <= 765 + 300 + 10
    assert climbing(fired)[0].memory_used_bytes / (24 * GIB) < 0.95


def test_the_ramp_up_of_a_starting_run_does_not_fire():
    def ramp(t):  # from 1 GiB to 22 GiB within two minutes, then flat
        return (replace(GPU, memory_used_bytes=int(GIB + min(t, 120) / 120 * 21 * GIB)),)

    heard, _ = run_gpu(ramp, 0, 1800)
    assert heard.said() == []


def test_thermal_slowdown_most_of_5_minutes_fires_after_2_minutes_and_resolves():
    hot = replace(GPU, temperature_celsius=84.0, clock_events_active={**CALM, "hw_thermal_slowdown": True})

    def readings(t):
        return (hot if 400 <= t < 1000 else GPU,)

    heard, _ = run_gpu(readings, 0, 1500)
    assert heard.said() == [(FIRING, "GpuThermalThrottling"), (RESOLVED, "GpuThermalThrottling")]
    firing, resolved = heard.notifications
    assert firing.at - T0 == pytest.approx(400 + 150 + 120, abs=6)  # more than half of 5 min, then for: 2m
    assert firing.alert.summary == "GPU 0 is slowing down for heat (84 °C)"
    assert "(slowdown at 92 °C)" in firing.alert.description
    assert resolved.at - T0 == pytest.approx(1000 + 150, abs=6)


def test_a_temperature_within_3_degrees_of_slowdown_fires_without_a_clock_event():
    heard, _ = run_gpu(lambda t: (replace(GPU, temperature_celsius=89.0),), 0, 300)
    assert heard.said() == [(FIRING, "GpuThermalThrottling")]


@pytest.mark.parametrize(("reason", "summary"), [("hw_power_brake_slowdown", "GPU 0: hardware power brake active"),
                                                 ("hw_slowdown", "GPU 0: hardware slowdown active")])
def test_hardware_slowdown_fires_per_reason(reason, summary):
    braking = replace(GPU, clock_events_active={**CALM, reason: True})
    heard, _ = run_gpu(lambda t: (braking,), 0, 200)
    assert heard.said() == [(FIRING, "GpuHardwareSlowdown")]
    assert heard.notifications[0].alert.summary == summary
    assert heard.notifications[0].alert.label("reason") == reason
    assert f"has had {reason} active 100% of the last 5 minutes" in heard.notifications[0].alert.description


def test_the_normal_power_cap_never_fires():
    heard, _ = run_gpu(lambda t: (replace(GPU, clock_events_active={**CALM, "sw_power_cap": True}),), 0, 900)
    assert heard.said() == []


def test_thermal_throttling_silences_the_hw_slowdown_that_heat_causes():
    both = replace(GPU, temperature_celsius=91.0, clock_events_active={**CALM, "hw_slowdown": True,
                                                                         "hw_thermal_slowdown": True})
    heard, _ = run_gpu(lambda t: (both,), 0, 300)
    assert heard.said() == [(FIRING, "GpuThermalThrottling")]


def test_a_lost_gpu_fires_after_a_minute_and_silences_its_warnings():
    lost = GpuReading(index=1, uuid="GPU-lost", name="NVIDIA A100-SXM4-80GB", up=False)
    full = replace(GPU, index=1, uuid="GPU-lost", memory_used_bytes=24 * GIB)
    heard, alerts = run_gpu(lambda t: (full if t < 400 else lost,), 0, 500)
    assert heard.said() == [(FIRING, "GpuMemoryNearlyFull"), (FIRING, "GpuLost")]
    assert heard.notifications[1].at - T0 == pytest.approx(460, abs=5)
    assert heard.notifications[1].alert.summary == "GPU 1 stopped answering (lost from the driver)"
    assert [a["name"] for a in alerts.firing()] == ["GpuLost"]


def test_a_crashed_run_silences_the_gpu_warnings():
    full = replace(GPU, memory_used_bytes=24 * GIB)
    crashed = replace(RUN, state="crashed", errors={"oom": 1})
    heard, _ = run_gpu(lambda t: (full,), 0, 400, snapshot=crashed)
    assert heard.said() == [(FIRING, "TrainingCrashed")]


def test_the_least_squares_line_is_prometheus_deriv_and_predict_linear():
    points = [(0.0, 1.0), (10.0, 3.0), (20.0, 5.0)]
    assert linear_fit(points, 20.0) == (0.2, 5.0)
    slope, at_now = linear_fit([(0.0, 0.0), (10.0, 10.0), (20.0, 2.0), (30.0, 12.0)], 30.0)
    assert slope == pytest.approx(0.28) and at_now == pytest.approx(10.2)
