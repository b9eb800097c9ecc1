"""scripts/gpu_check.py's checks on synthetic scrape series, and scripts/gpu_check.sh end to end on CPU
with tests/fake_nvml.py standing in for NVML and a trainer that only prints."""

from __future__ import annotations

import importlib.util
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "scripts" / "gpu_check.py")
gpu_check = importlib.util.module_from_spec(_spec)
sys.modules["gpu_check"] = gpu_check  # dataclasses look their module up
_spec.loader.exec_module(gpu_check)

GIB = 2**30
NAMES = ("power", "energy_monotonic", "energy_vs_power", "trainer_memory", "utilization", "clocks",
         "mfu_gpu_peak", "scrape_latency", "gpu_collector", "training_followed")


def exposition(gpu: str = "0", power: float = 400.0, energy: float = 0.0, limit: float = 700.0,
               trainer: float = 2 * GIB, busy: float = 0.97, iteration: int = 10, mfu: float | None = 0.3,
               success: int = 1) -> str:
    """A /metrics text as the exporter writes it, for one GPU."""
    ids = f'gpu="{gpu}",uuid="GPU-{gpu}"'
    lines = [
        "# TYPE training_gpu_info gauge",
        f'training_gpu_info{{{ids},name="NVIDIA H200",driver_version="550.54.14"}} 1',
        f"training_gpu_power_watts{{{ids}}} {power}",
        f"training_gpu_power_limit_watts{{{ids}}} {limit}",
        "# TYPE training_gpu_energy_joules counter",
        f'training_gpu_energy_joules_total{{{ids},method="counter"}} {energy}',
        f"training_gpu_trainer_memory_used_bytes{{{ids}}} {trainer}",
        f"training_gpu_utilization_ratio{{{ids}}} {busy}",
        f'training_gpu_clock_hertz{{{ids},clock="sm"}} 1.98e9',
        f'training_gpu_clock_hertz{{{ids},clock="memory"}} 3.2e9',
        f'training_gpu_clock_event_active{{{ids},reason="sw_power_cap"}} 0',
        f'training_gpu_clock_event_active{{{ids},reason="gpu_idle"}} 0',
        f'training_iteration{{run="r"}} {iteration}',
        f'training_exporter_collector_success{{collector="gpu"}} {success}',
    ]
    if mfu is not None:
        lines.append(f'training_mfu_ratio{{run="r",basis="gpu_peak"}} {mfu}')
    return "\n".join(lines) + "\n"


def healthy(count: int = 60, watts: float = 400.0, **overrides) -> list:
    """``count`` scrapes 0.5 s apart of a steady run; ``overrides`` maps a field to a value per scrape."""
    scrapes = []
    for i in range(count):
        fields = {"power": watts, "energy": watts * 0.5 * i, "iteration": 10 + 5 * i}
        fields.update({name: values[i] for name, values in overrides.items()})
        scrapes.append(gpu_check.Scrape(100.0 + 0.5 * i, 0.004, gpu_check.parse(exposition(**fields))))
    return scrapes


def results(scrapes: list) -> dict:
    return {r.name: r for r in gpu_check.evaluate(scrapes)}


def test_a_healthy_run_passes_every_check_with_one_line_each():
    lines = [r.line() for r in gpu_check.evaluate(healthy())]
    assert [line.split(":")[0] for line in lines] == [f"PASS {name}" for name in NAMES]
    assert "PASS energy_vs_power: counter 11800 J, power integral 11800 J over 30 s, 0.0% apart" in lines
    assert "PASS energy_monotonic: 0 -> 11800 J over 60 scrapes, method counter" in lines
    assert "PASS clocks: memory 3200 MHz, sm 1980 MHz; 2 clock event reasons, active: none" in lines


def test_no_scrapes_fails_every_check_and_says_why():
    lines = [r.line() for r in gpu_check.evaluate([])]
    assert len(lines) == len(NAMES)
    assert all(re.fullmatch(r"FAIL \w+: .+ \(.+\)", line) for line in lines), lines


def test_energy_counter_going_down_fails_monotonicity():
    energy = [200.0 * i for i in range(60)]
    energy[30] = 0.0
    check = results(healthy(energy=energy))["energy_monotonic"]
    assert not check.ok and "went down 1 times" in check.line()


@pytest.mark.parametrize(("scale", "ok"), [(1.0, True), (1.09, True), (0.92, True), (1.12, False), (0.85, False)])
def test_energy_counter_must_agree_with_integrated_power_within_ten_percent(scale, ok):
    check = results(healthy(energy=[200.0 * i * scale for i in range(60)]))["energy_vs_power"]
    assert check.ok is ok, check.line()


def test_integrated_power_follows_a_ramp():
    # power climbing from idle to training: trapezoids, not the last or first reading
    watts = [100.0 + 10 * i for i in range(60)]
    energy = [0.0]
    for a, b in zip(watts, watts[1:]):
        energy.append(energy[-1] + 0.5 * (a + b) / 2)
    assert gpu_check.trapezoid([(0.0, 0.0), (1.0, 100.0), (2.0, 100.0)]) == 150.0
    assert results(healthy(power=watts, energy=energy))["energy_vs_power"].line().endswith("0.0% apart")


def test_power_must_be_above_zero_and_within_the_limit():
    assert not results(healthy(power=[0.0] + [400.0] * 59))["power"].ok
    over = results(healthy(power=[400.0] * 59 + [720.0]))["power"]
    assert not over.ok and "1 readings above the power limit" in over.line()


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert gpu_check.percentile(values, 0.99) == 99.0
    assert gpu_check.percentile(values, 0.5) == 50.0
    assert gpu_check.percentile([7.0], 0.99) == 7.0


@pytest.mark.parametrize(("slow", "ok"), [(1, True), (2, False)])
def test_scrape_latency_p99_under_50_ms(slow, ok):
    scrapes = [gpu_check.Scrape(s.t, 0.080 if i < slow else 0.004, s.samples) for i, s in enumerate(healthy(100))]
    check = results(scrapes)["scrape_latency"]
    assert check.ok is ok
    assert check.line().split(": ", 1)[1].startswith("p50 4.0 ms, p99 " + ("4.0" if ok else "80.0") + " ms")


def test_a_scrape_without_a_valid_answer_fails_the_latency_check():
    scrapes = healthy(100)
    scrapes[50] = gpu_check.Scrape(scrapes[50].t, math.inf, {})
    check = results(scrapes)["scrape_latency"]
    assert not check.ok and check.line().endswith("over 100 scrapes, 1 failed (1 scrapes got no valid answer)")
    assert results(scrapes)["energy_vs_power"].ok  # the other checks skip it


def test_trainer_memory_zero_throughout_means_the_trainer_was_not_matched():
    check = results(healthy(trainer=[0.0] * 60))["trainer_memory"]
    assert check.line() == "FAIL trainer_memory: max 0.00 GiB (the trainer's process was never matched)"


def test_utilization_must_rise_above_zero():
    assert not results(healthy(busy=[0.0] * 60))["utilization"].ok


@pytest.mark.parametrize(("mfu", "ok"), [([None] * 10 + [0.3] * 50, True), ([None] * 60, False), ([1.2] * 60, False)])
def test_gpu_peak_mfu_must_be_exported_and_between_0_and_1(mfu, ok):
    assert results(healthy(mfu=mfu))["mfu_gpu_peak"].ok is ok


def test_gpu_collector_may_start_at_0_but_never_drop():
    assert results(healthy(success=[0] * 3 + [1] * 57))["gpu_collector"].ok
    dropped = results(healthy(success=[1] * 30 + [0] + [1] * 29))["gpu_collector"]
    assert dropped.line() == "FAIL gpu_collector: 1 in 59/60 scrapes since it first was (dropped to 0)"


def test_training_iteration_must_rise():
    assert not results(healthy(iteration=[42] * 60))["training_followed"].ok


def test_checks_look_at_the_gpu_holding_the_trainer():
    idle, busy = gpu_check.parse(exposition(gpu="0", trainer=0.0)), gpu_check.parse(exposition(gpu="1"))
    both = {name: idle[name] + busy[name] for name in idle}
    assert gpu_check.trainer_gpu([gpu_check.Scrape(0.0, 0.004, both)]) == "1"
    assert gpu_check.trainer_gpu([gpu_check.Scrape(0.0, 0.004, idle)]) == "0"
    assert gpu_check.trainer_gpu([]) == "0"


def test_a_zombie_trainer_counts_as_ended():
    child = subprocess.Popen(["true"])
    deadline = time.monotonic() + 5
    while Path(f"/proc/{child.pid}").exists() and "Z" not in Path(f"/proc/{child.pid}/stat").read_text().split()[2]:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert not gpu_check.alive(child.pid)
    child.wait()
    assert gpu_check.alive(os.getpid())


def test_the_fake_trainer_prints_nanogpt_lines():
    out = subprocess.run([sys.executable, ROOT / "scripts" / "gpu_check_train.py", "--fake", "--seconds", "0.3",
                          "--fake-iteration-ms", "10"], capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    assert "Overriding: n_layer = 8" in lines and "tokens per iteration will be: 32,768" in lines
    assert "number of parameters: 62.93M" in lines  # 8192*768 + 8*(12*768^2 + 2*768) + 768
    assert lines[lines.index("number of parameters: 62.93M") + 1].startswith("step 0: train loss 9.")
    iterations = [line for line in lines if line.startswith("iter ")]
    assert re.fullmatch(r"iter 0: loss \d+\.\d{4}, time \d+\.\d{2}ms, mfu -100\.00%", iterations[0])
    assert re.fullmatch(r"iter \d+: loss \d+\.\d{4}, time \d+\.\d{2}ms, mfu \d+\.\d{2}%", iterations[-1])


def _script(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "OUT": str(tmp_path), "PYTHON": sys.executable, **env}
    return subprocess.run(["bash", ROOT / "scripts" / "gpu_check.sh"], env=environment, capture_output=True,
                          text=True, timeout=60)


def test_the_whole_check_runs_on_cpu_against_fake_nvml(tmp_path):
    run = _script(tmp_path, GPU_CHECK_FAKE_NVML="1", GPU_CHECK_SECONDS="4", GPU_CHECK_SAMPLE_SECONDS="0.1")
    verdicts = {name: verdict for verdict, name in re.findall(r"^(PASS|FAIL) (\w+):", run.stdout, re.MULTILINE)}
    assert set(verdicts) == {*NAMES, "trainer"}, run.stdout + run.stderr
    # latency depends on this machine's load; every other check must pass against the real exporter
    assert all(v == "PASS" for name, v in verdicts.items() if name != "scrape_latency"), run.stdout
    assert run.returncode == (0 if verdicts["scrape_latency"] == "PASS" else 1)
    assert "GPU 0: NVIDIA H200" in run.stdout
    files = tmp_path / "gpu_check"
    assert "training_gpu_power_watts" in (files / "metrics.txt").read_text()
    assert (files / "train.log").read_text().startswith("Overriding: ")
    assert len((files / "series.csv").read_text().splitlines()) > 5


@pytest.mark.skipif(importlib.util.find_spec("torch") is not None, reason="PyTorch is installed here")
def test_without_pytorch_it_says_so_in_one_line_and_exits_2(tmp_path):
    run = _script(tmp_path)
    assert run.returncode == 2
    assert run.stdout.startswith("SKIP gpu_check: needs an NVIDIA GPU, PyTorch and NVML: ")
    assert len(run.stdout.splitlines()) == 1
