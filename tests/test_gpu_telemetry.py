"""GPU telemetry: selection, readings in base units, energy, trainer memory, lost GPUs, the sampler."""

from __future__ import annotations

import logging
import os
import subprocess
import time
from types import SimpleNamespace

import pytest
from tests.fake_nvml import GIB, FakeGpu, FakeNvml, NVMLError_LibraryNotFound, fake_gpus, pascal_gpu

from exporter.gpu import GpuSettings, GpuTelemetry, open_telemetry
from exporter.gpu.discovery import parse_selection, select_devices
from exporter.gpu.energy_meter import EnergyMeter
from exporter.gpu.processes import ProcFs, trainer_pids
from exporter.gpu.sampler import RECOVERY_RETRY_SECONDS

PEAKS = {"NVIDIA GeForce RTX 4090": 165.2e12, "NVIDIA GeForce RTX 4070": 58.3e12}


def fake_lookup(name: str):
    peak = PEAKS.get(name)
    return None if peak is None else SimpleNamespace(name=name, bf16_dense_flops=peak)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeProcesses:
    """pid -> (command line, parent pid)."""

    def __init__(self, table: dict[int, tuple[str, int]]) -> None:
        self.table = table

    def cmdline(self, pid):
        return self.table[pid][0] if pid in self.table else None

    def parent(self, pid):
        return self.table[pid][1] if pid in self.table else None


def open_fake(
    gpus: list[FakeGpu], settings: GpuSettings | None = None, clock=None, environ=None, processes=None
) -> tuple[GpuTelemetry, FakeNvml]:
    fake = FakeNvml(gpus)
    telemetry = open_telemetry(
        settings or GpuSettings(),
        fake,
        clock or Clock(),
        environ=environ or {},
        spec_lookup=fake_lookup,
        processes=processes or FakeProcesses({}),
    )
    return telemetry, fake


def by_gpu(telemetry: GpuTelemetry) -> dict[int, object]:
    return {r.index: r for r in telemetry.readings()}


# ---- start-up --------------------------------------------------------------------------------------


def test_no_driver_is_unavailable_with_one_clear_message(caplog):
    fake = FakeNvml([], init_error=NVMLError_LibraryNotFound)
    with caplog.at_level(logging.INFO):
        telemetry = open_telemetry(GpuSettings(), fake, environ={})
    assert telemetry.available is False
    assert "libnvidia-ml.so.1 was not found" in telemetry.error
    assert [r.getMessage() for r in caplog.records] == [telemetry.error]
    telemetry.start()
    telemetry.sample_once()
    telemetry.stop()
    assert telemetry.readings() == ()


def test_no_gpu_at_all_is_unavailable():
    telemetry, fake = open_fake([])
    assert not telemetry.available
    assert "no NVIDIA GPU was found" in telemetry.error
    assert fake.calls["nvmlShutdown"] == 1


def test_unexpected_failure_still_does_not_raise():
    class Broken(FakeNvml):
        def nvmlDeviceGetCount(self):
            raise RuntimeError("driver returned garbage")

    telemetry = open_telemetry(GpuSettings(), Broken([]), environ={})
    assert not telemetry.available
    assert "driver returned garbage" in telemetry.error


def test_identity_and_static_values_before_the_first_sample():
    telemetry, _ = open_fake(fake_gpus(1))
    (reading,) = telemetry.readings()
    assert (reading.index, reading.uuid, reading.name, reading.up) == (
        0, "GPU-00000000-1111-2222-3333-444455556666", "NVIDIA GeForce RTX 4090", True,
    )
    assert reading.temperature_thresholds_celsius == {"shutdown": 95.0, "slowdown": 92.0, "max_operating": 88.0}
    assert reading.clocks_max_hertz == {"sm": 3105e6, "memory": 10501e6}
    assert reading.power_watts is None
    assert telemetry.driver_version == "550.54.14"


# ---- selection -------------------------------------------------------------------------------------


def test_parse_selection():
    assert parse_selection(["0,1", " GPU-ab ", ""]) == ["0", "1", "GPU-ab"]


DEVICES = [(0, "GPU-aaaa1111"), (1, "GPU-bbbb2222"), (2, "GPU-bbbb3333")]


@pytest.mark.parametrize(
    ("selection", "chosen", "problems"),
    [
        (None, [0, 1, 2], 0),
        (["2", "0"], [0, 2], 0),
        (["GPU-bbbb2"], [1], 0),
        (["bbbb3"], [2], 0),
        (["gpu-AAAA"], [0], 0),
        (["GPU-bbbb"], [], 1),
        (["7", "1"], [1], 1),
        (["MIG-1234"], [], 1),
    ],
)
def test_select_devices(selection, chosen, problems):
    indices, messages = select_devices(selection, DEVICES)
    assert indices == chosen
    assert len(messages) == problems


def test_gpus_setting_selects_by_index_and_uuid():
    gpus = fake_gpus(4)
    telemetry, _ = open_fake(gpus, GpuSettings(gpus=["3", gpus[1].uuid[:12]]))
    assert [r.index for r in telemetry.readings()] == [1, 3]
    assert {r.uuid for r in telemetry.readings()} == {gpus[1].uuid, gpus[3].uuid}


def test_cuda_visible_devices_is_the_default_selection():
    telemetry, _ = open_fake(fake_gpus(3), environ={"CUDA_VISIBLE_DEVICES": "2,0"})
    assert [r.index for r in telemetry.readings()] == [0, 2]


def test_gpus_setting_wins_over_cuda_visible_devices():
    telemetry, _ = open_fake(fake_gpus(3), GpuSettings(gpus=["1"]), environ={"CUDA_VISIBLE_DEVICES": "0"})
    assert [r.index for r in telemetry.readings()] == [1]


def test_unknown_selection_entry_is_reported_and_the_rest_kept(caplog):
    with caplog.at_level(logging.WARNING):
        telemetry, _ = open_fake(fake_gpus(2), GpuSettings(gpus=["1", "5"]))
    assert [r.index for r in telemetry.readings()] == [1]
    assert any("'5' is not a GPU index or UUID" in r.getMessage() for r in caplog.records)


def test_selection_matching_nothing_is_unavailable():
    telemetry, _ = open_fake(fake_gpus(2), GpuSettings(gpus=["GPU-ffff"]))
    assert not telemetry.available
    assert "no NVIDIA GPU matching GPU-ffff was found" in telemetry.error
    assert "GPU-00000000" in telemetry.error  # lists what exists


# ---- readings --------------------------------------------------------------------------------------


def test_reading_is_in_base_units():
    gpu = FakeGpu(uuid="GPU-a", processes=[(100, 3 * GIB)])
    telemetry, _ = open_fake([gpu])
    telemetry.sample_once()
    (r,) = telemetry.readings()
    assert r.power_watts == pytest.approx(285.123)
    assert r.power_instant_watts == pytest.approx(301.456)
    assert r.power_average_watts == pytest.approx(284.0)
    assert r.power_limit_watts == pytest.approx(450.0)
    assert (r.memory_used_bytes, r.memory_free_bytes, r.memory_total_bytes) == (18 * GIB, 6 * GIB, 24 * GIB)
    assert r.oom_risk_ratio == pytest.approx(0.75)
    assert r.utilization_ratio == pytest.approx(0.97)
    assert r.memory_utilization_ratio == pytest.approx(0.41)
    assert r.temperature_celsius == 71.0
    assert r.clocks_hertz == {"sm": 2520e6, "memory": 10501e6}
    assert r.clock_events_active["sw_power_cap"] is True
    assert r.clock_events_active["hw_thermal_slowdown"] is False
    assert len(r.clock_events_active) == 9
    assert r.throttled_seconds == {"power": pytest.approx(12.5), "thermal": 0.0}
    assert r.fan_speed_ratio == pytest.approx(0.45)
    assert r.trainer_memory_used_bytes == 3 * GIB
    assert r.peak_flops == 165.2e12


def test_unsupported_values_are_left_out():
    gpu = pascal_gpu("GPU-p")
    gpu.unsupported |= {"nvmlDeviceGetComputeRunningProcesses", "nvmlDeviceGetUtilizationRates"}
    telemetry, fake = open_fake([gpu])
    telemetry.sample_once()
    (r,) = telemetry.readings()
    assert r.power_instant_watts is None and r.power_average_watts is None
    assert r.fan_speed_ratio is None
    assert r.throttled_seconds == {}
    assert r.utilization_ratio is None and r.memory_utilization_ratio is None
    assert r.trainer_memory_used_bytes is None
    assert r.temperature_celsius == 60.0  # from the deprecated call
    assert r.temperature_thresholds_celsius == {"shutdown": 90.0, "slowdown": 87.0}
    # only the reasons the GPU supports
    assert r.clock_events_active == {"gpu_idle": True, "sw_power_cap": False, "hw_slowdown": False}


def test_zero_total_memory_gives_no_oom_risk():
    telemetry, _ = open_fake([FakeGpu(uuid="GPU-a", memory_total=0, memory_used=0)])
    telemetry.sample_once()
    assert telemetry.readings()[0].oom_risk_ratio is None


# ---- energy ----------------------------------------------------------------------------------------


def energy_by_gpu(telemetry):
    """Each GPU's energy since start, by UUID, where it has one."""
    return {r.uuid: r.energy_joules for r in telemetry.readings() if r.energy_joules is not None}


def test_energy_from_the_counter_counts_from_start():
    gpu = FakeGpu(uuid="GPU-a", energy_mj=7_000_000)
    telemetry, _ = open_fake([gpu])
    telemetry.sample_once()
    assert energy_by_gpu(telemetry) == {"GPU-a": 0.0}
    gpu.energy_mj += 250_500
    telemetry.sample_once()
    assert energy_by_gpu(telemetry) == {"GPU-a": pytest.approx(250.5)}
    assert telemetry.readings()[0].energy_method == "counter"


def test_energy_counter_reset_starts_a_new_baseline():
    meter = EnergyMeter()
    for counter in (10_000, 20_000, 500, 1_500):
        meter.update(counter, None, 0.0)
    assert meter.method == "counter"
    assert meter.joules == pytest.approx(11.0)  # 10 J, then the reset, then 1 J


def test_energy_integrates_power_without_a_counter():
    clock = Clock()
    gpu = pascal_gpu("GPU-p")  # 200 W, no energy counter
    telemetry, fake = open_fake([gpu], clock=clock)
    telemetry.sample_once()
    clock.now += 1.0
    gpu.power_mw = 300_000
    telemetry.sample_once()
    clock.now += 2.0
    telemetry.sample_once()
    # trapezoids: (200+300)/2 * 1 s + 300 * 2 s
    assert energy_by_gpu(telemetry) == {"GPU-p": pytest.approx(850.0)}
    assert telemetry.readings()[0].energy_method == "integrated"
    # the missing counter is asked for once, not on every pass
    assert fake.calls["nvmlDeviceGetTotalEnergyConsumption"] == 1


def test_no_power_and_no_counter_gives_no_energy():
    gpu = pascal_gpu("GPU-p")
    gpu.unsupported.add("nvmlDeviceGetPowerUsage")
    telemetry, _ = open_fake([gpu])
    telemetry.sample_once()
    telemetry.sample_once()
    assert energy_by_gpu(telemetry) == {}
    assert telemetry.readings()[0].energy_method is None


# ---- trainer processes ------------------------------------------------------------------------------

TABLE = FakeProcesses(
    {
        100: ("torchrun --nproc_per_node 2 train.py", 50),
        101: ("/usr/bin/python3 -u train.py config/train_gpt2.py", 100),
        102: ("/usr/bin/python3 -u train.py config/train_gpt2.py", 100),
        200: ("python3 jupyter-kernel", 1),
    }
)


def test_trainer_pid_matches_the_process_and_its_children():
    assert trainer_pids({101, 102, 200}, 100, "train", TABLE) == {101, 102}


def test_command_line_match_when_no_pid():
    assert trainer_pids({101, 200}, None, "train.py", TABLE) == {101}


def test_pid_not_running_falls_back_to_the_command_line():
    assert trainer_pids({101, 200}, 999, "jupyter", TABLE) == {200}


def test_nothing_matching_means_all_compute_processes():
    assert trainer_pids({101, 200}, None, "nanochat", TABLE) == {101, 200}
    # another PID namespace: no command lines at all
    assert trainer_pids({7, 8}, None, "train", FakeProcesses({})) == {7, 8}


def test_trainer_memory_is_chosen_across_all_gpus():
    gpus = fake_gpus(2)
    gpus[0].processes = [(101, 5 * GIB), (200, 1 * GIB)]
    gpus[1].processes = [(200, 2 * GIB)]  # only someone else on GPU 1
    telemetry, _ = open_fake(gpus, GpuSettings(trainer_cmdline_match="train.py"), processes=TABLE)
    telemetry.sample_once()
    readings = by_gpu(telemetry)
    assert readings[0].trainer_memory_used_bytes == 5 * GIB
    assert readings[1].trainer_memory_used_bytes == 0


def test_trainer_memory_unknown_when_nvml_cannot_say():
    gpu = FakeGpu(uuid="GPU-a", processes=[(101, None)])  # e.g. Windows WDDM
    telemetry, _ = open_fake([gpu], processes=TABLE)
    telemetry.sample_once()
    assert telemetry.readings()[0].trainer_memory_used_bytes is None


def test_procfs_reads_a_child_process(tmp_path):
    child = subprocess.Popen(["sleep", "30"])
    try:
        deadline = time.monotonic() + 5  # until the child has exec'd
        while ProcFs().cmdline(child.pid) != "sleep 30" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert ProcFs().cmdline(child.pid) == "sleep 30"
        assert ProcFs().parent(child.pid) == os.getpid()
    finally:
        child.kill()
        child.wait(timeout=10)
    assert ProcFs(str(tmp_path)).cmdline(1) is None
    (tmp_path / "42").mkdir()
    (tmp_path / "42" / "stat").write_text("42 (odd) name) S 7 42 42 0")
    assert ProcFs(str(tmp_path)).parent(42) == 7


# ---- lost GPUs ---------------------------------------------------------------------------------------


def test_lost_gpu_is_down_the_other_keeps_going_and_it_recovers(caplog):
    clock = Clock()
    gpus = fake_gpus(2)
    telemetry, _ = open_fake(gpus, clock=clock)
    telemetry.sample_once()
    gpus[1].energy_mj += 100_000
    telemetry.sample_once()

    gpus[1].lost = True
    gpus[0].temperature = 80
    with caplog.at_level(logging.WARNING):
        clock.now += 1
        telemetry.sample_once()
    readings = by_gpu(telemetry)
    assert readings[0].up and readings[0].temperature_celsius == 80.0
    assert not readings[1].up
    assert readings[1].temperature_celsius is None and readings[1].power_watts is None
    assert readings[1].energy_joules == pytest.approx(100.0)  # a counter keeps its value
    assert energy_by_gpu(telemetry)[gpus[1].uuid] == pytest.approx(100.0)
    assert any("is lost" in r.getMessage() for r in caplog.records)

    gpus[1].lost = False
    gpus[1].energy_mj += 50_000
    clock.now += 1  # before the retry time: still reported lost
    telemetry.sample_once()
    assert not by_gpu(telemetry)[1].up
    clock.now += RECOVERY_RETRY_SECONDS
    telemetry.sample_once()
    readings = by_gpu(telemetry)
    assert readings[1].up and readings[1].temperature_celsius == 71.0
    assert readings[1].energy_joules == pytest.approx(150.0)
    assert any(r.getMessage().endswith("is back") for r in caplog.records)


def test_a_handle_that_comes_back_without_answers_stays_lost(caplog):
    clock = Clock()
    gpus = fake_gpus(1)
    telemetry, fake = open_fake(gpus, clock=clock)
    fake.nvmlDeviceGetHandleByUUID = lambda uuid: gpus[0]  # a handle, but every read still fails
    gpus[0].lost = True
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            telemetry.sample_once()
            clock.now += RECOVERY_RETRY_SECONDS
    assert not telemetry.readings()[0].up
    messages = [r.getMessage() for r in caplog.records]
    assert sum("is lost" in m for m in messages) == 1
    assert not any("is back" in m for m in messages)


def test_gpu_lost_at_start_up_is_skipped():
    gpus = fake_gpus(2)
    gpus[0].lost = True
    telemetry, _ = open_fake(gpus)
    assert [r.index for r in telemetry.readings()] == [1]


def test_integration_does_not_bridge_a_loss():
    clock = Clock()
    gpu = pascal_gpu("GPU-p")
    telemetry, _ = open_fake([gpu], clock=clock)
    telemetry.sample_once()
    clock.now += 1
    telemetry.sample_once()  # 200 J
    gpu.lost = True
    clock.now += 1
    telemetry.sample_once()
    gpu.lost = False
    clock.now += RECOVERY_RETRY_SECONDS
    telemetry.sample_once()  # back: new starting point
    clock.now += 1
    telemetry.sample_once()  # +200 J
    assert energy_by_gpu(telemetry) == {"GPU-p": pytest.approx(400.0)}


# ---- peak FLOP/s -------------------------------------------------------------------------------------


def test_peak_flops_sums_known_gpus():
    gpus = fake_gpus(2)
    gpus[1].name = "NVIDIA GeForce RTX 4070"
    telemetry, _ = open_fake(gpus)
    assert [r.peak_flops for r in telemetry.readings()] == [pytest.approx(165.2e12), pytest.approx(58.3e12)]


def test_the_trainers_memory_is_read_on_each_gpu_it_runs_on():
    """Which GPUs a run's energy comes from is decided from these readings (exporter/run_set/attribution.py)."""
    gpus = fake_gpus(2)
    gpus[1].name = "NVIDIA GeForce RTX 4070"
    gpus[1].processes = [(4242, 6 * GIB)]  # the trainer runs on GPU 1 only
    processes = FakeProcesses({4242: ("python train.py config/train_small.py", 1)})
    telemetry, _ = open_fake(gpus, processes=processes)
    telemetry.sample_once()
    readings = by_gpu(telemetry)
    assert readings[1].trainer_memory_used_bytes == 6 * GIB and not readings[0].trainer_memory_used_bytes
    assert set(energy_by_gpu(telemetry)) == {gpus[0].uuid, gpus[1].uuid}
    assert readings[1].peak_flops == pytest.approx(58.3e12)


def test_unknown_gpu_gives_no_peak_and_is_logged_once(caplog):
    gpus = fake_gpus(3)
    gpus[1].name = gpus[2].name = "NVIDIA Mystery 9000"
    with caplog.at_level(logging.WARNING):
        telemetry, _ = open_fake(gpus)
    assert by_gpu(telemetry)[0].peak_flops == 165.2e12
    assert by_gpu(telemetry)[1].peak_flops is None
    assert sum("unknown GPU 'NVIDIA Mystery 9000'" in r.getMessage() for r in caplog.records) == 1


def test_default_spec_table_is_used():
    gpu = FakeGpu(uuid="GPU-a", name="NVIDIA GeForce RTX 4090")
    telemetry = open_telemetry(GpuSettings(), FakeNvml([gpu]), environ={}, processes=FakeProcesses({}))
    from exporter.gpu.specs import lookup

    assert telemetry.readings()[0].peak_flops == lookup("NVIDIA GeForce RTX 4090").bf16_dense_flops


# ---- the sampler thread ------------------------------------------------------------------------------


def test_sampler_thread_updates_readings_and_stops():
    gpu = FakeGpu(uuid="GPU-a")
    telemetry, fake = open_fake([gpu], GpuSettings(sample_interval_seconds=0.05), clock=time.monotonic)
    telemetry.start()
    try:
        deadline = time.monotonic() + 5
        while telemetry.readings()[0].power_watts is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert telemetry.readings()[0].power_watts == pytest.approx(285.123)
        gpu.temperature = 77
        while telemetry.readings()[0].temperature_celsius != 77.0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert telemetry.readings()[0].temperature_celsius == 77.0
    finally:
        telemetry.stop()
    assert fake.calls["nvmlShutdown"] == 1
    passes = fake.calls["nvmlDeviceGetPowerUsage"]
    time.sleep(0.15)
    telemetry.sample_once()  # after stop: nothing is called
    assert fake.calls["nvmlDeviceGetPowerUsage"] == passes


def test_sampler_survives_a_failing_pass(caplog):
    gpu = FakeGpu(uuid="GPU-a")
    telemetry, fake = open_fake([gpu], GpuSettings(sample_interval_seconds=0.05), clock=time.monotonic)
    original = fake.nvmlDeviceGetMemoryInfo
    failures = []

    def flaky(handle):
        if len(failures) < 2:
            failures.append(1)
            raise ValueError("bad struct")
        return original(handle)

    fake.nvmlDeviceGetMemoryInfo = flaky
    with caplog.at_level(logging.ERROR):
        telemetry.start()
        try:
            deadline = time.monotonic() + 5
            while telemetry.readings()[0].memory_total_bytes is None and time.monotonic() < deadline:
                time.sleep(0.01)
        finally:
            telemetry.stop()
    assert telemetry.readings()[0].memory_total_bytes == 24 * GIB
    assert sum("GPU sampler pass failed" in r.getMessage() for r in caplog.records) == 1
