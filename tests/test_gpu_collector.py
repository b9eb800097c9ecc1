"""The GPU collector: golden exposition, failure without NVML, lost GPUs, nothing slow on the scrape path."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
from tests.fake_nvml import GIB, FakeGpu, FakeNvml, NVMLError_DriverNotLoaded, fake_gpus, pascal_gpu
from prometheus_client import CollectorRegistry, generate_latest

from exporter.collectors.base import CollectorStats, Labelled
from exporter.collectors.gpu import GpuCollector
from exporter.gpu import GpuSettings, GpuTelemetry, open_telemetry

GOLDEN = Path(__file__).parent / "golden" / "gpu.prom"


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


class Processes:
    commands = {4242: "python train.py config/train_shakespeare_char.py", 777: "python notebook.py"}

    def cmdline(self, pid):
        return self.commands.get(pid)

    def parent(self, pid):
        return None


def spec_lookup(name):
    peaks = {"NVIDIA GeForce RTX 4090": 165.2e12, "NVIDIA GeForce RTX 4070": 58.3e12}
    return SimpleNamespace(bf16_dense_flops=peaks[name]) if name in peaks else None


def telemetry_for(fake: FakeNvml, clock=None) -> GpuTelemetry:
    return open_telemetry(
        GpuSettings(), fake, clock or Clock(), environ={}, spec_lookup=spec_lookup, processes=Processes()
    )


def scrape(telemetry: GpuTelemetry, stats: CollectorStats | None = None) -> str:
    registry = CollectorRegistry(auto_describe=True)
    registry.register(GpuCollector(telemetry, stats or CollectorStats()))
    return generate_latest(registry).decode()


def golden_scenario() -> str:
    """GPU 0: a busy RTX 4090 running the trainer; GPU 1: a Pascal board without an energy counter,
    fan, power fields or violation counters; GPU 2: an RTX 4070 that is lost after the first pass."""
    clock = Clock()
    rtx4090 = FakeGpu(uuid="GPU-11111111-2222-3333-4444-555555555555", processes=[(4242, 17 * GIB), (777, GIB)])
    p100 = pascal_gpu("GPU-66666666-7777-8888-9999-000000000000")
    rtx4070 = FakeGpu(uuid="GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", name="NVIDIA GeForce RTX 4070",
                      energy_mj=1_000_000, memory_total=12 * GIB, memory_used=GIB)
    telemetry = telemetry_for(FakeNvml([rtx4090, p100, rtx4070]), clock)
    telemetry.sample_once()
    clock.now += 2.0
    rtx4090.energy_mj += 570_246  # 285.123 W for 2 s
    rtx4070.energy_mj += 40_000
    rtx4070.lost = True
    telemetry.sample_once()
    return scrape(telemetry)


def test_golden_exposition():
    assert golden_scenario() == GOLDEN.read_text()


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_exposition_passes_promtool_lint():
    result = subprocess.run(
        ["promtool", "check", "metrics"], input=golden_scenario(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_without_nvml_the_collector_fails_with_no_families():
    telemetry = open_telemetry(GpuSettings(), FakeNvml([], init_error=NVMLError_DriverNotLoaded), environ={})
    stats = CollectorStats()
    assert scrape(telemetry, stats) == ""
    assert stats.snapshot()["gpu"][0] is False


def test_success_while_any_gpu_answers():
    gpus = fake_gpus(2)
    telemetry = telemetry_for(FakeNvml(gpus))
    stats = CollectorStats()
    gpus[0].lost = True
    telemetry.sample_once()
    text = scrape(telemetry, stats)
    assert stats.snapshot()["gpu"][0] is True
    assert f'training_gpu_up{{gpu="0",uuid="{gpus[0].uuid}"}} 0.0' in text
    assert f'training_gpu_temperature_celsius{{gpu="1",uuid="{gpus[1].uuid}"}} 71.0' in text
    assert 'training_gpu_temperature_celsius{gpu="0"' not in text

    gpus[1].lost = True
    telemetry.sample_once()
    scrape(telemetry, stats)
    assert stats.snapshot()["gpu"][0] is False


def test_a_scrape_makes_no_nvml_calls():
    fake = FakeNvml(fake_gpus(8))
    telemetry = telemetry_for(fake)
    telemetry.sample_once()
    before = sum(fake.calls.values())
    text = scrape(telemetry)
    assert sum(fake.calls.values()) == before
    assert text.count("training_gpu_power_watts{") == 8


def test_unsupported_values_have_no_sample_and_no_nan():
    text = golden_scenario()
    assert "NaN" not in text
    p100 = 'uuid="GPU-66666666-7777-8888-9999-000000000000"'
    for metric in ("training_gpu_fan_speed_ratio", "training_gpu_power_instant_watts",
                   "training_gpu_throttled_seconds_total", "training_gpu_peak_flops_per_second"):
        assert not any(line.startswith(metric) and p100 in line for line in text.splitlines()), metric


def test_families_are_built_and_labelled_once_per_sampler_pass():
    gpus = fake_gpus(2)
    telemetry = telemetry_for(FakeNvml(gpus))
    telemetry.sample_once()
    collector = Labelled(GpuCollector(telemetry, CollectorStats()), {"node": "n1"})
    first = list(collector.collect())
    again = list(collector.collect())
    assert [id(family) for family in again] == [id(family) for family in first]
    assert all(sample.labels["node"] == "n1" and len(sample.labels) >= 3
               for family in again for sample in family.samples)
    gpus[1].temperature = 55
    telemetry.sample_once()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    text = generate_latest(registry).decode()
    assert f'training_gpu_temperature_celsius{{gpu="1",node="n1",uuid="{gpus[1].uuid}"}} 55.0' in text
    assert text.count('node="n1"') == sum(len(f.samples) for f in collector.collect())
