"""The GPU alerts of ``prometheus/rules/gpu-alerts.yml``, evaluated on the sampler's readings and
their recent past (the rules' ``[5m]`` and ``[15m]`` ranges): the same conditions and texts."""

from __future__ import annotations

from collections.abc import Iterable

from exporter.alerts.alert import Active
from exporter.alerts.history import Recent, linear_fit
from exporter.gpu.reading import GpuReading

FULL_RATIO = 0.95  # memory above this is full
TREND_SECONDS, SLOPE_SECONDS, AHEAD_SECONDS = 900.0, 300.0, 600.0  # predict_linear(...[15m], 600), deriv([5m])
STEADY_RATIO = 0.5  # a climb counts from a steady state above half the card
AVERAGE_SECONDS = 300.0  # avg_over_time(...[5m])
MOST = 0.5  # "for most of the last 5 minutes"
THERMAL_REASONS = ("hw_thermal_slowdown", "sw_thermal_slowdown")
HARDWARE_REASONS = ("hw_slowdown", "hw_power_brake_slowdown")
SLOWDOWN_MARGIN_CELSIUS = 3.0
GIB = 2**30


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _active_share(window: list[tuple[float, GpuReading]], reason: str) -> float | None:
    """avg_over_time of a clock event reason: the share of samples it was active in."""
    return _mean([float(r.clock_events_active[reason]) for _, r in window if reason in r.clock_events_active])


def _alert(r: GpuReading, run: str, name: str, summary: str, description: str,
           reason: str | None = None) -> Active:
    labels = (("gpu", str(r.index)), ("uuid", r.uuid)) + ((("reason", reason),) if reason else ())
    return Active(name, labels, summary, description, details=(("Run", run), ("GPU", r.name)))


def memory_climbing(window: list[tuple[float, GpuReading]], total: int, now: float) -> bool:
    """The 15-minute trend reaches the total within 10 minutes while memory still rises (5-minute
    slope), from a steady state above half the card."""
    points = [(t, float(r.memory_used_bytes)) for t, r in window if r.memory_used_bytes is not None]
    recent = [(t, v) for t, v in points if t >= now - SLOPE_SECONDS]
    if len({t for t, _ in recent}) < 2:
        return False
    slope, predicted_now = linear_fit(points, now)
    return (predicted_now + slope * AHEAD_SECONDS >= total and linear_fit(recent, now)[0] > 0
            and min(v for _, v in points) > STEADY_RATIO * total)


def memory_nearly_full(r: GpuReading, recent: Recent, run: str, now: float) -> Active | None:
    used, total = r.memory_used_bytes, r.memory_total_bytes
    if used is None or not total:
        return None
    if used / total <= FULL_RATIO and not memory_climbing(recent.gpu(r.uuid, TREND_SECONDS, now), total, now):
        return None
    return _alert(
        r, run, "GpuMemoryNearlyFull", f"GPU {r.index} is running out of memory ({used / total:.0%} used)",
        f"GPU {r.index} ({r.name}) has {used / GIB:.1f} GiB of {total / GIB:.1f} GiB in use and is full or still "
        "climbing: a CUDA out-of-memory crash is likely. Check first: memory growth in the trainer (tensors kept "
        "across iterations, e.g. a loss appended without .item()), other processes on the GPU (nvidia-smi); if "
        "the batch just does not fit, lower batch_size and raise gradient_accumulation_steps at the next "
        "checkpoint.")


def thermal_throttling(r: GpuReading, recent: Recent, run: str, now: float) -> Active | None:
    window = recent.gpu(r.uuid, AVERAGE_SECONDS, now)
    shares = [share for reason in THERMAL_REASONS if (share := _active_share(window, reason)) is not None]
    temperature = _mean([t.temperature_celsius for _, t in window if t.temperature_celsius is not None])
    slowdown = r.temperature_thresholds_celsius.get("slowdown")
    hot = temperature is not None and slowdown is not None and temperature >= slowdown - SLOWDOWN_MARGIN_CELSIUS
    if not hot and not any(share > MOST for share in shares):
        return None
    now_celsius = "unknown" if r.temperature_celsius is None else f"{r.temperature_celsius:.0f} °C"
    return _alert(
        r, run, "GpuThermalThrottling", f"GPU {r.index} is slowing down for heat ({now_celsius})",
        f"GPU {r.index} is at {now_celsius} (slowdown at "
        f"{'unknown' if slowdown is None else f'{slowdown:.0f} °C'}) and its clocks are being held down, so the "
        "run gets slower and the ETA slips. Check first: fans and airflow (case side panel, dust, a blocked "
        "intake), room temperature; a lower power limit (nvidia-smi -pl) costs little speed and runs much cooler.")


def hardware_slowdown(r: GpuReading, recent: Recent, run: str, now: float) -> list[Active]:
    window = recent.gpu(r.uuid, AVERAGE_SECONDS, now)
    found = []
    for reason in HARDWARE_REASONS:
        share = _active_share(window, reason)
        if share is None or share <= MOST:
            continue
        what = "power brake" if reason == "hw_power_brake_slowdown" else "slowdown"
        found.append(_alert(
            r, run, "GpuHardwareSlowdown", f"GPU {r.index}: hardware {what} active",
            f"GPU {r.index} has had {reason} active {share:.0%} of the last 5 minutes: the hardware halves its "
            "clocks or more. Check first: the power supply and the GPU's power cables (one cable per 8-pin, no "
            "daisy chain; 12VHPWR fully seated), then temperatures (hw_slowdown also covers overheating).",
            reason))
    return found


def lost(r: GpuReading, run: str) -> Active:
    return _alert(
        r, run, "GpuLost", f"GPU {r.index} stopped answering (lost from the driver)",
        f"NVML no longer answers for GPU {r.index} ({r.uuid}): it has fallen off the bus or the driver lost it, "
        "and the run on it has almost certainly died. Check first: nvidia-smi and the kernel log (dmesg | grep "
        "-i -e xid -e nvrm); usually a reboot is needed, then resume from the last checkpoint. Frequent: power "
        "delivery or overheating.")


def gpu_alerts(readings: Iterable[GpuReading], recent: Recent, run: str, now: float) -> list[Active]:
    """The GPU alerts whose conditions hold at ``now`` (``recent`` already holds this pass)."""
    found: list[Active] = []
    for r in readings:
        if not r.up:
            found.append(lost(r, run))
            continue
        found += [alert for alert in (memory_nearly_full(r, recent, run, now),
                                      thermal_throttling(r, recent, run, now)) if alert is not None]
        found += hardware_slowdown(r, recent, run, now)
    return found
