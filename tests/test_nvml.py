"""The NVML session: uniform handling of unsupported values, lost GPUs and start-up errors."""

from __future__ import annotations

import ctypes
import logging
import sys
from types import SimpleNamespace

import pynvml
import pytest
from tests.fake_nvml import (
    FakeGpu,
    FakeNvml,
    NVMLError_DriverNotLoaded,
    NVMLError_LibraryNotFound,
    NVMLError_NoPermission,
    NVMLError_NotSupported,
    NVMLError_Unknown,
)

from exporter.gpu import nvml as nvml_module
from exporter.gpu.nvml import GpuLost, Nvml, NvmlUnavailable


def _open(*gpus: FakeGpu) -> tuple[Nvml, FakeNvml]:
    fake = FakeNvml(list(gpus))
    return Nvml.open(fake), fake


def test_constants_match_pynvml():
    assert nvml_module.TEMPERATURE_GPU == pynvml.NVML_TEMPERATURE_GPU
    assert nvml_module.TEMPERATURE_THRESHOLDS == {
        "shutdown": pynvml.NVML_TEMPERATURE_THRESHOLD_SHUTDOWN,
        "slowdown": pynvml.NVML_TEMPERATURE_THRESHOLD_SLOWDOWN,
        "max_operating": pynvml.NVML_TEMPERATURE_THRESHOLD_GPU_MAX,
    }
    assert nvml_module.CLOCKS == {"sm": pynvml.NVML_CLOCK_SM, "memory": pynvml.NVML_CLOCK_MEM}
    assert nvml_module.FIELD_POWER_AVERAGE == pynvml.NVML_FI_DEV_POWER_AVERAGE
    assert nvml_module.FIELD_POWER_INSTANT == pynvml.NVML_FI_DEV_POWER_INSTANT
    expected_reasons = {
        "gpu_idle": pynvml.nvmlClocksEventReasonGpuIdle,
        "applications_clocks_setting": pynvml.nvmlClocksEventReasonApplicationsClocksSetting,
        "sw_power_cap": pynvml.nvmlClocksEventReasonSwPowerCap,
        "hw_slowdown": pynvml.nvmlClocksEventReasonHwSlowdown,
        "sync_boost": pynvml.nvmlClocksEventReasonSyncBoost,
        "sw_thermal_slowdown": pynvml.nvmlClocksEventReasonSwThermalSlowdown,
        "hw_thermal_slowdown": pynvml.nvmlClocksEventReasonHwThermalSlowdown,
        "hw_power_brake_slowdown": pynvml.nvmlClocksEventReasonHwPowerBrakeSlowdown,
        "display_clock_setting": pynvml.nvmlClocksEventReasonDisplayClockSetting,
    }
    assert nvml_module.CLOCK_EVENT_REASONS == expected_reasons
    assert nvml_module.VIOLATION_POLICIES == {
        "power": pynvml.NVML_PERF_POLICY_POWER,
        "thermal": pynvml.NVML_PERF_POLICY_THERMAL,
        "sync_boost": pynvml.NVML_PERF_POLICY_SYNC_BOOST,
        "board_limit": pynvml.NVML_PERF_POLICY_BOARD_LIMIT,
        "low_utilization": pynvml.NVML_PERF_POLICY_LOW_UTILIZATION,
        "reliability": pynvml.NVML_PERF_POLICY_RELIABILITY,
    }


def test_fake_error_classes_mirror_pynvml():
    for name in ("NotSupported", "NoPermission", "FunctionNotFound", "GpuIsLost", "LibraryNotFound"):
        assert getattr(FakeNvml, f"NVMLError_{name}").value == getattr(pynvml, f"NVMLError_{name}")(0).value


@pytest.mark.parametrize("error", ["unsupported", "missing", "no_permission"])
def test_unavailable_values_are_none(error):
    gpu = FakeGpu(uuid="GPU-a")
    if error == "unsupported":
        gpu.unsupported.add("nvmlDeviceGetFanSpeed")
    elif error == "missing":
        gpu.missing.add("nvmlDeviceGetFanSpeed")
    nvml, fake = _open(gpu)
    if error == "no_permission":

        def denied(handle):
            raise NVMLError_NoPermission()

        fake.nvmlDeviceGetFanSpeed = denied
    assert nvml.call("nvmlDeviceGetFanSpeed", gpu) is None
    assert nvml.call("nvmlDeviceGetTemperatureV", gpu, 0) == 71


def test_function_absent_from_the_module_is_none():
    nvml = Nvml(SimpleNamespace(NVMLError=Exception))
    assert nvml.call("nvmlDeviceGetTemperatureV", object(), 0) is None


def test_lost_gpu_raises_gpu_lost():
    gpu = FakeGpu(uuid="GPU-a", lost=True)
    nvml, _ = _open(gpu)
    with pytest.raises(GpuLost):
        nvml.call("nvmlDeviceGetPowerUsage", gpu)


def test_other_nvml_errors_are_none_and_logged_once(caplog):
    nvml, fake = _open(FakeGpu(uuid="GPU-a"))

    def failing(handle):
        raise NVMLError_Unknown()

    fake.nvmlDeviceGetPowerUsage = failing
    with caplog.at_level(logging.WARNING, logger="exporter.gpu.nvml"):
        assert nvml.call("nvmlDeviceGetPowerUsage", fake.gpus[0]) is None
        assert nvml.call("nvmlDeviceGetPowerUsage", fake.gpus[0]) is None
    assert [r.getMessage() for r in caplog.records] == [
        "NVML nvmlDeviceGetPowerUsage failed: Unknown; that value is left out"
    ]


def test_programming_errors_are_not_hidden():
    nvml, _ = _open(FakeGpu(uuid="GPU-a"))
    with pytest.raises(TypeError):
        nvml.call("nvmlDeviceGetPowerUsage")  # handle forgotten


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (NVMLError_LibraryNotFound, "libnvidia-ml.so.1 was not found"),
        (NVMLError_DriverNotLoaded, "kernel driver is not loaded"),
        (NVMLError_NoPermission, "/dev/nvidia"),
        (NVMLError_NotSupported, "NVML could not be initialised"),
    ],
)
def test_open_failure_names_the_problem(error, words):
    with pytest.raises(NvmlUnavailable, match=words):
        Nvml.open(FakeNvml([], init_error=error))


def test_open_without_the_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)
    with pytest.raises(NvmlUnavailable, match="pip install nvidia-ml-py"):
        Nvml.open()


def _driver_library_present() -> bool:
    try:
        ctypes.CDLL("libnvidia-ml.so.1")
    except OSError:
        return False
    return True


@pytest.mark.skipif(_driver_library_present(), reason="this machine has the NVIDIA driver library")
def test_real_pynvml_without_driver():
    with pytest.raises(NvmlUnavailable, match="libnvidia-ml.so.1 was not found"):
        Nvml.open()
