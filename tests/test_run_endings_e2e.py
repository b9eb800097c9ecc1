"""How a run ends, end to end: the trainer runs under ``training-exporter run``, a real Prometheus
(the project's rules, ``for:`` capped at 2 s) scrapes it and a real Alertmanager posts to a local
Slack sink. A clean finish between two log lines, with or without evals, sends TrainingFinished and
nothing else; a killed trainer pages TrainingCrashed once, a CUDA OOM once; a run that stays nan to
its end never reads resolved; Ctrl-C sends nothing at all. In every ending the energy counted is
1 kW (other_watts) × the trainer's lifetime within 2 %."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from exporter_process import REPO, free_port
from machine_load import slowdown
from test_alerting_e2e import SlackSink

RUN = "ending"
# after the end, how long no further message may come: at the test timings (1 s scrapes and
# evaluations, `for:` capped at 2 s, 1 s group wait and resend delay) a message is on its way within
# about 5 s; 8 s leaves room for a loaded machine
QUIET_SECONDS = 8


@pytest.fixture(scope="module", autouse=True)
def _binaries_installed(local_stack):
    missing = local_stack.missing_binaries()
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)} (Debian: apt-get install prometheus prometheus-alertmanager)")


TRAINER = """
    import os, sys, time
    started = time.time()
    open(sys.argv[1] + ".started", "w").write(str(started))
    if sys.argv[4] in ("oom", "nan"):
        time.sleep(3)  # a lifetime long enough to weigh the energy by
    open(sys.argv[1], "w").write(str(os.getpid()))
    print(f"Overriding: eval_interval = {250 if sys.argv[4] == 'evals' else 100000}")
    print("Overriding: log_interval = 5")
    print(f"Overriding: max_iters = {sys.argv[2]}")
    for i in range(0, int(sys.argv[3]) + 1, 5):
        if sys.argv[4] == "evals" and i % 250 == 0:
            time.sleep(0.8)  # the eval's pause
            print(f"step {i}: train loss 3.5000, val loss 3.6000")
        print(f"iter {i}: loss {4.0 - i / 1000:.4f}, time 40.00ms, mfu 30.00%")
        time.sleep(0.05)
    if sys.argv[4] == "wait":
        time.sleep(120)
    if sys.argv[4] == "oom":
        open(sys.argv[1] + ".lifetime", "w").write(str(time.time() - started))
        print("Traceback (most recent call last):")
        print("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB")
        sys.exit(1)
    if sys.argv[4] == "nan":
        for i in range(int(sys.argv[3]) + 5, int(sys.argv[2]) + 1, 5):
            print(f"iter {i}: loss nan, time 40.00ms, mfu 30.00%")
            time.sleep(0.05)
    open(sys.argv[1] + ".lifetime", "w").write(str(time.time() - started))
"""


def _start(tmp_path, port, max_iters, last, then):
    pid_file = tmp_path / "trainer.pid"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    wrapper = subprocess.Popen(
        [sys.executable, "-m", "exporter", "run", "--port", str(port), "--run", RUN, "--grace-seconds", "60",
         "--other-watts", "1000", "--gpu-sample-interval-seconds", "0.1",
         "--poll-interval-seconds", "0.1", "--log", str(tmp_path / "train.log"), "--",
         sys.executable, "-c", textwrap.dedent(TRAINER), str(pid_file), str(max_iters), str(last), then],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    return wrapper, pid_file


@pytest.fixture
def ending(tmp_path, local_stack):
    """``(start, sink, stack)``: ``start(max_iters, last, then)`` runs the wrapper under the stack."""
    sink, port, started = SlackSink(), free_port(), []
    webhook_file = tmp_path / "slack_webhook_url"
    webhook_file.write_text(sink.url + "\n")
    with local_stack.LocalStack(exporter_port=port, workdir=tmp_path / "stack", slack_url_file=webhook_file,
                                scrape_interval="1s", for_cap="2s", group_wait="1s", group_interval="1s",
                                alert_resend_delay="1s") as stack:
        def start(max_iters, last, then):
            wrapper, pid_file = _start(tmp_path, port, max_iters, last, then)
            started.append(wrapper)
            stack.wait_until(lambda: stack.query_value(f'training_iteration{{run="{RUN}"}}') is not None,
                             timeout=30, what="the run's progress in Prometheus")
            return wrapper, int(pid_file.read_text()), pid_file
        yield start, sink, stack
    for wrapper in started:
        if wrapper.poll() is None:
            wrapper.kill()
        wrapper.wait(timeout=10)
    sink.close()


def _assert_energy_of_lifetime(stack, pid_file, lifetime=None):
    """1 kW of other_watts for the trainer's lifetime (its own measure unless given): within 2 %, or
    within three sample intervals (0.1 s) at each end, widened by the load the machine shows now
    (the start and the end are seen at the exporter's next tick, later on a loaded machine)."""
    if lifetime is None:
        lifetime = float((pid_file.parent / (pid_file.name + ".lifetime")).read_text())
    energy = stack.query_value(f'training_energy_joules_total{{run="{RUN}"}}')
    assert energy == pytest.approx(1000 * lifetime, rel=0.02, abs=1000 * 2 * 0.3 * slowdown())


def _titles(sink):
    return [m["json"]["attachments"][0]["title"] for m in sink.messages]


def _until(stack, sink, predicate, what, timeout=40):
    stack.wait_until(lambda: any(predicate(t) for t in _titles(sink)), timeout=timeout,
                     what=f"{what}; Slack got {_titles(sink)}")


@pytest.mark.parametrize("evals", ["exit", "evals"])
def test_a_clean_finish_between_two_log_lines_sends_only_trainingfinished(ending, evals):
    start, sink, stack = ending
    wrapper, _, pid_file = start(1003, 1000, evals)  # nanoGPT prints iter 1000 last, then exits 0
    _until(stack, sink, lambda t: "TrainingFinished" in t, "TrainingFinished")
    time.sleep(QUIET_SECONDS)
    assert [t for t in _titles(sink) if "TrainingFinished" not in t] == []
    _assert_energy_of_lifetime(stack, pid_file)
    wrapper.send_signal(signal.SIGTERM)  # end the grace period
    assert wrapper.wait(timeout=10) == 0


def test_a_killed_trainer_pages_trainingcrashed_once(ending):
    start, sink, stack = ending
    wrapper, trainer, pid_file = start(5000, 200, "wait")
    started = float((pid_file.parent / (pid_file.name + ".started")).read_text())
    time.sleep(max(0.0, started + 8 - time.time()))  # a lifetime long enough to weigh the energy by
    os.kill(trainer, signal.SIGKILL)
    lifetime = time.time() - started
    _until(stack, sink, lambda t: t.startswith("CRITICAL") and "TrainingCrashed" in t, "TrainingCrashed")
    time.sleep(QUIET_SECONDS)
    titles = _titles(sink)
    assert len(titles) == 1, titles  # one page: no TrainingStalled, no silent-crash repeat
    assert "the trainer's process ended short of max_iters (killed)" in sink.messages[0]["json"]["attachments"][0]["text"]
    _assert_energy_of_lifetime(stack, pid_file, lifetime)  # its life, not its silence
    wrapper.send_signal(signal.SIGTERM)
    assert wrapper.wait(timeout=10) == 128 + signal.SIGKILL


def test_ctrl_c_sends_nothing(ending):
    start, sink, stack = ending
    wrapper, _, pid_file = start(5000, 200, "wait")
    started = float((pid_file.parent / (pid_file.name + ".started")).read_text())
    time.sleep(max(0.0, started + 8 - time.time()))
    wrapper.send_signal(signal.SIGINT)
    lifetime = time.time() - started
    stack.wait_until(lambda: stack.query_value(f'training_state{{run="{RUN}",state="interrupted"}}') == 1,
                     timeout=20, what="the run is interrupted in Prometheus")
    time.sleep(QUIET_SECONDS)
    assert _titles(sink) == []
    _assert_energy_of_lifetime(stack, pid_file, lifetime)
    wrapper.send_signal(signal.SIGTERM)
    assert wrapper.wait(timeout=10) == 128 + signal.SIGINT


def test_a_cuda_oom_pages_trainingcrashed_once_naming_it(ending):
    start, sink, stack = ending
    wrapper, _, pid_file = start(5000, 200, "oom")
    _until(stack, sink, lambda t: t.startswith("CRITICAL") and "TrainingCrashed" in t, "TrainingCrashed")
    time.sleep(QUIET_SECONDS)
    assert len(sink.messages) == 1, _titles(sink)
    assert "CUDA out of memory" in sink.messages[0]["json"]["attachments"][0]["text"] + _titles(sink)[0]
    _assert_energy_of_lifetime(stack, pid_file)
    wrapper.send_signal(signal.SIGTERM)
    assert wrapper.wait(timeout=10) == 1


def test_a_run_that_stays_nan_to_its_end_never_reads_resolved(ending):
    start, sink, stack = ending
    wrapper, _, pid_file = start(400, 200, "nan")  # nan from iter 205 to 400, then exit 0
    _until(stack, sink, lambda t: t.startswith("CRITICAL") and "TrainingLossNotFinite" in t, "TrainingLossNotFinite")
    assert wrapper.poll() is None or wrapper.returncode == 0
    time.sleep(QUIET_SECONDS)
    titles = _titles(sink)
    assert not any(t.startswith("RESOLVED") for t in titles), titles
    assert not any("TrainingFinished" in t or "TrainingCrashed" in t for t in titles), titles
    _assert_energy_of_lifetime(stack, pid_file)  # counted to the end: a nan loss does not stop the trainer
    wrapper.send_signal(signal.SIGTERM)
    assert wrapper.wait(timeout=10) == 0
