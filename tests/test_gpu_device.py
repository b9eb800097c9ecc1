"""One GPU's readers: base units, fallbacks to deprecated calls, and NVML named in one module only."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tests.fake_nvml import GIB, FakeGpu, FakeNvml

from exporter.gpu.device import Device, Memory, device_by_index, device_by_uuid, device_count, driver_version
from exporter.gpu.nvml import Nvml
from exporter.gpu.reading import GpuReading

PACKAGE = Path(__file__).resolve().parent.parent / "exporter" / "gpu"
NVML_FUNCTION = re.compile(r"nvml[A-Z]\w*")


def _open(gpu: FakeGpu) -> tuple[Device, FakeNvml]:
    fake = FakeNvml([gpu])
    nvml = Nvml.open(fake)
    return device_by_index(nvml, 0), fake


def test_nvml_functions_are_named_only_in_device_py():
    named_elsewhere = {
        f"{path.name}: {name}"
        for path in PACKAGE.rglob("*.py")
        if path.name != "device.py"
        for name in NVML_FUNCTION.findall(path.read_text())
        if (path.name, name) not in {("nvml.py", "nvmlInit"), ("nvml.py", "nvmlShutdown")}
    }
    assert not named_elsewhere
    assert len(set(NVML_FUNCTION.findall((PACKAGE / "device.py").read_text()))) > 20


def test_the_machine_and_its_devices():
    gpus = [FakeGpu(uuid="GPU-a"), FakeGpu(uuid="GPU-b", name=b"NVIDIA A100-SXM4-80GB")]
    nvml = Nvml.open(FakeNvml(gpus))
    assert device_count(nvml) == 2
    assert driver_version(nvml) == "550.54.14"
    assert device_by_index(nvml, 1).uuid() == "GPU-b"
    assert device_by_uuid(nvml, "GPU-b").name() == "NVIDIA A100-SXM4-80GB"  # bytes from older pynvml
    assert device_by_uuid(nvml, "GPU-nope") is None


def test_readers_are_in_base_units():
    device, _ = _open(FakeGpu(uuid="GPU-a"))
    assert device.power_watts() == pytest.approx(285.123)
    assert device.power_fields_watts() == (pytest.approx(301.456), pytest.approx(284.0))
    assert device.power_limit_watts() == pytest.approx(450.0)
    assert device.energy_counter_millijoules() == 5_000_000
    assert device.memory() == Memory(used_bytes=18 * GIB, free_bytes=6 * GIB, total_bytes=24 * GIB)
    assert device.memory().oom_risk_ratio == pytest.approx(0.75)
    assert device.utilization_ratios() == (pytest.approx(0.97), pytest.approx(0.41))
    assert device.temperature_celsius() == 71.0
    assert device.temperature_thresholds_celsius() == {"shutdown": 95.0, "slowdown": 92.0, "max_operating": 88.0}
    assert device.clocks_hertz() == {"sm": 2520e6, "memory": 10501e6}
    assert device.clocks_max_hertz() == {"sm": 3105e6, "memory": 10501e6}
    assert device.throttled_seconds() == {"power": pytest.approx(12.5), "thermal": 0.0}
    assert device.fan_speed_ratio() == pytest.approx(0.45)


def test_a_pass_fills_reading_fields_only():
    device, _ = _open(FakeGpu(uuid="GPU-a"))
    reading_fields = set(GpuReading.__dataclass_fields__)
    assert set(device.static_values()) <= reading_fields
    assert set(device.pass_values(None)) <= reading_fields


def test_temperature_falls_back_to_the_deprecated_call():
    gpu = FakeGpu(uuid="GPU-a", temperature=66, missing={"nvmlDeviceGetTemperatureV"})
    device, fake = _open(gpu)
    assert device.temperature_celsius() == 66
    assert fake.calls["nvmlDeviceGetTemperature"] == 1


def test_clock_event_reasons_fall_back_to_throttle_reasons():
    gpu = FakeGpu(
        uuid="GPU-a",
        supported_reasons=0x7,
        active_reasons=0x4,
        missing={"nvmlDeviceGetCurrentClocksEventReasons", "nvmlDeviceGetSupportedClocksEventReasons"},
    )
    device, fake = _open(gpu)
    assert device.supported_clock_event_reasons() == 0x7
    assert device.clock_events_active(0x7) == {
        "gpu_idle": False, "applications_clocks_setting": False, "sw_power_cap": True,
    }
    assert fake.calls["nvmlDeviceGetCurrentClocksThrottleReasons"] == 1


def test_clock_events_without_a_supported_mask_cover_every_reason():
    device, _ = _open(FakeGpu(uuid="GPU-a", active_reasons=0x4))
    events = device.clock_events_active(None)
    assert len(events) == 9 and [reason for reason, active in events.items() if active] == ["sw_power_cap"]


def test_power_fields_leave_out_unsupported_fields():
    device, _ = _open(FakeGpu(uuid="GPU-a", power_instant_mw=123_000, unsupported={"power_average"}))
    assert device.power_fields_watts() == (pytest.approx(123.0), None)


def test_power_fields_unsupported_call_is_empty():
    device, _ = _open(FakeGpu(uuid="GPU-a", unsupported={"nvmlDeviceGetFieldValues"}))
    assert device.power_fields_watts() == (None, None)


def test_violation_and_processes():
    gpu = FakeGpu(uuid="GPU-a", violations_ns={0: 2_000_000_000}, processes=[(10, 1024), (11, None)])
    device, _ = _open(gpu)
    assert device.throttled_seconds() == {"power": 2.0}  # policy 1 (thermal) is not supported here
    assert device.compute_processes() == [(10, 1024), (11, None)]


def test_unsupported_values_are_none_or_left_out():
    gpu = FakeGpu(uuid="GPU-a", unsupported={
        "nvmlDeviceGetMemoryInfo", "nvmlDeviceGetUtilizationRates", "nvmlDeviceGetFanSpeed",
        "nvmlDeviceGetComputeRunningProcesses", "nvmlDeviceGetClockInfo",
    })
    device, _ = _open(gpu)
    assert device.memory() is None
    assert device.utilization_ratios() == (None, None)
    assert device.fan_speed_ratio() is None
    assert device.compute_processes() is None
    assert device.clocks_hertz() == {}
