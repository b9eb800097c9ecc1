"""End to end: one exporter follows three logs through one glob — two written at the same time, the
third created later by the sweep — and a real Prometheus scrapes it: three runs with their own
progress; a deleted log's run leaves the exposition after the grace period; the GPUs' energy is
split by run with the NVML library faked (tests/fake_nvml.py): alpha's and beta's trainers (real
processes; alpha's named by its command line, beta's by its output going to beta's log) each on
a GPU of their own and both on a third, one GPU used by no run.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time

import pytest

from conftest import write_log
from exporter_process import ExporterProcess
from fake_nvml import GIB, FakeGpu, pynvml_source
from nanogpt_fixture import preamble

GRACE_SECONDS = 4
WATTS = 100.0  # each GPU's steady draw
MAX_ITERS = 20_000  # what the preamble's config says
LAST = {"alpha": 240, "beta": 160, "gamma": 90}


@pytest.fixture(scope="module", autouse=True)
def _prometheus_installed(local_stack):
    missing = local_stack.missing_binaries(alertmanager=False)
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)} (Debian package prometheus)")


def write_run(path, last: int, seconds_per_iteration: float) -> threading.Thread:
    """A thread writing a nanoGPT log at ``path``: the preamble, then iterations 0..``last``."""
    def write() -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_log(path, preamble())
        for iteration in range(last + 1):
            write_log(path, [f"iter {iteration}: loss {4.5 - iteration * 1e-3:.4f}, time 50.00ms, mfu 30.00%"],
                      append=True)
            time.sleep(seconds_per_iteration)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def trainers(tmp_path):
    """Stand-ins for alpha's and beta's trainers: alpha's command line names its run; beta's does
    not, but it prints to beta's log (``python train.py > runs/beta/train.log``)."""
    sleep = [sys.executable, "-c", "import time; time.sleep(300)"]
    (tmp_path / "runs" / "beta").mkdir(parents=True)
    with open(tmp_path / "runs" / "beta" / "train.log", "a") as beta_log:
        processes = {"alpha": subprocess.Popen([*sleep, f"--out_dir={tmp_path}/runs/alpha"]),
                     "beta": subprocess.Popen([*sleep, "--out_dir=out"], stdout=beta_log)}
    yield {run: process.pid for run, process in processes.items()}
    for process in processes.values():
        process.kill()
        process.wait()


@pytest.fixture
def exporter(tmp_path, trainers):
    gpus = [FakeGpu(uuid="GPU-0", processes=[(trainers["alpha"], 8 * GIB)], energy_watts=WATTS),
            FakeGpu(uuid="GPU-1", processes=[(trainers["beta"], 4 * GIB)], energy_watts=WATTS),
            FakeGpu(uuid="GPU-2", processes=[(trainers["alpha"], 3 * GIB), (trainers["beta"], 1 * GIB)],
                    energy_watts=WATTS),
            FakeGpu(uuid="GPU-3", energy_watts=WATTS)]
    shim = tmp_path / "fake-nvml"
    shim.mkdir()
    (shim / "pynvml.py").write_text(pynvml_source(gpus))
    with ExporterProcess("--log", str(tmp_path / "runs" / "*" / "train.log"), "--node", "box",
                         "--missing-log-grace-seconds", str(GRACE_SECONDS),
                         "--gpu-sample-interval-seconds", "0.2", import_first=shim) as process:
        yield process


@pytest.fixture
def stack(tmp_path, exporter, local_stack):
    with local_stack.LocalStack(exporter.port, tmp_path / "stack", alertmanager=False, scrape_interval="1s") as stack:
        stack.wait_for_target("training-exporter", timeout=30)
        yield stack


def by_run(stack, expr: str) -> dict[str, float]:
    return {series["metric"]["run"]: float(series["value"][1]) for series in stack.query(expr)}


def test_three_runs_one_created_later_each_with_its_progress_energy_and_end(stack, exporter, tmp_path):
    runs = tmp_path / "runs"
    writers = [write_run(runs / "alpha" / "train.log", LAST["alpha"], 0.02),
               write_run(runs / "beta" / "train.log", LAST["beta"], 0.03)]
    stack.wait_until(lambda: len(by_run(stack, "training_iteration")) == 2, 30, what="alpha and beta in Prometheus")
    writers.append(write_run(runs / "gamma" / "train.log", LAST["gamma"], 0.02))  # the sweep's next run
    for writer in writers:
        writer.join(timeout=30)

    expected = {run: float(last) for run, last in LAST.items()}
    stack.wait_until(lambda: by_run(stack, "training_iteration") == expected, 30, what="each run's last iteration")
    assert by_run(stack, "training_progress_ratio") == pytest.approx(
        {run: last / MAX_ITERS for run, last in LAST.items()})
    assert by_run(stack, 'training_state{state="running"}') == {"alpha": 1.0, "beta": 1.0, "gamma": 1.0}

    # alpha: GPU-0 and 3/4 of GPU-2; beta: GPU-1 and 1/4 of GPU-2; gamma: no GPU; GPU-3: no run's
    shares = {(s["metric"]["run"], s["metric"]["uuid"]): float(s["value"][1])
              for s in stack.query('training_run_gpu_share_ratio{node="box"}')}
    assert shares == {("alpha", "GPU-0"): 1.0, ("alpha", "GPU-2"): 0.75, ("beta", "GPU-1"): 1.0,
                      ("beta", "GPU-2"): 0.25}
    power = stack.wait_until(lambda: _settled(by_run(stack, 'training_power_watts{node="box"}')), 30,
                             what="each run's power")
    assert power == pytest.approx({"alpha": 175.0, "beta": 125.0, "gamma": 0.0}, rel=0.05, abs=1.0)
    # over the same scrapes: each run's energy is its share of each GPU's, GPU-3's is no run's
    begin = time.time()
    time.sleep(6)
    end = time.time()
    time.sleep(1.5)  # the scrape at or before `end` is in
    gpu = increases(stack, 'training_gpu_energy_joules_total{node="box"}', "uuid", begin, end)
    run = increases(stack, 'training_energy_joules_total{node="box"}', "run", begin, end)
    unattributed = increases(stack, 'training_energy_unattributed_joules_total{node="box"}', "node", begin, end)["box"]
    assert min(gpu.values()) > 3 * WATTS  # at least 3 s of energy to compare
    assert run["alpha"] == pytest.approx(gpu["GPU-0"] + 0.75 * gpu["GPU-2"], rel=0.05)
    assert run["beta"] == pytest.approx(gpu["GPU-1"] + 0.25 * gpu["GPU-2"], rel=0.05)
    assert run["gamma"] == 0.0 and unattributed == pytest.approx(gpu["GPU-3"], rel=0.05)

    (runs / "gamma" / "train.log").unlink()
    deleted = time.monotonic()
    # within the grace period the run is still there, waiting for its log to come back
    stack.wait_until(lambda: by_run(stack, 'training_state{state="waiting"}').get("gamma") == 1.0, GRACE_SECONDS,
                     what="gamma waiting for its log")
    stack.wait_until(lambda: "gamma" not in by_run(stack, "training_state"), GRACE_SECONDS + 15,
                     what="gamma's run gone from Prometheus")
    assert time.monotonic() - deleted >= GRACE_SECONDS - 1  # not before the grace period
    assert set(by_run(stack, "training_state")) == {"alpha", "beta"}
    assert not stack.query('{__name__=~"training_.*", run="gamma"}')  # every exporter series of the run
    assert "run 'gamma' dropped" in exporter.output()


def increases(stack, selector: str, label: str, begin: float, end: float) -> dict[str, float]:
    """Each counter's increase between the scrapes Prometheus holds for ``begin`` and ``end`` (the
    same scrapes for every selector: the GPUs and the runs compare exactly)."""
    first = {s["metric"][label]: float(s["value"][1]) for s in stack.query(selector, time=begin)}
    return {s["metric"][label]: float(s["value"][1]) - first[s["metric"][label]]
            for s in stack.query(selector, time=end)}


def _settled(power: dict[str, float]) -> dict[str, float] | None:
    """The runs' power once alpha and beta draw what their GPUs give them (the mean window filled)."""
    if set(power) == {"alpha", "beta", "gamma"} and power["alpha"] > 170 and power["beta"] > 120:
        return power
    return None


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed (Debian package prometheus)")
def test_the_exposition_of_several_runs_passes_promtool(tmp_path):
    for run, last in (("a", 300), ("b", 200)):
        (tmp_path / run).mkdir()
        write_log(tmp_path / run / "train.log", [*preamble(), *(f"iter {i}: loss 4.0, time 50.00ms, mfu 30.00%"
                                                                for i in range(last + 1))])
    gpus = [FakeGpu(uuid="GPU-0", processes=[(4_000_000, GIB)], energy_watts=WATTS)]
    shim = tmp_path / "fake-nvml"
    shim.mkdir()
    (shim / "pynvml.py").write_text(pynvml_source(gpus))
    with ExporterProcess("--log", str(tmp_path / "*" / "train.log"), import_first=shim) as exporter:
        exporter.wait_for('training_iteration{run="a"} 300.0')
        exporter.wait_for('training_iteration{run="b"} 200.0')
        text = exporter.wait_for("training_energy_unattributed_joules_total{")
    assert text.count("# TYPE training_iteration gauge") == 1
    result = subprocess.run(["promtool", "check", "metrics"], input=text, text=True, capture_output=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
