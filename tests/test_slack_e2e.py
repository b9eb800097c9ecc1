"""Slack straight from the exporter, end to end: a trainer runs under ``training-exporter run
--slack-webhook-file`` and a local sink stands in for Slack. One message per alert for a stall
(with its resolution), an OOM crash, a nan loss and a clean finish; repeats at the repeat
interval; a 429 with Retry-After delivered once after the wait; a sink that hangs slows neither
the scrapes nor the log follower; the webhook URL shows in no log line and no metric. GPU alerts
come from a stand-in NVML library (tests/fake_nvml.py) in a real ``serve``."""

from __future__ import annotations

import os
import re
import signal
import statistics
import subprocess
import sys
import textwrap
import time

import pytest
import requests

from exporter_process import REPO, ExporterProcess, free_port
from slack_sink import PATH, SlackSink

RUN = "e2e"
TRAINER = """
    import sys, time
    mode, last = sys.argv[1], int(sys.argv[2])
    print("Overriding: eval_interval = 100000")
    print("Overriding: log_interval = 1")
    print(f"Overriding: max_iters = {last}")
    def step(i, loss="3.5000"):
        print(f"iter {i}: loss {loss}, time 20.00ms, mfu 30.00%")
        time.sleep(0.02)
    for i in range(30):
        step(i)
    if mode == "oom":
        print("Traceback (most recent call last):")
        print("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB")
        sys.exit(1)
    if mode == "stall":
        time.sleep(float(sys.argv[3]))
    for i in range(30, last + 1):
        step(i, "nan" if mode == "nan" else "3.4000")
"""


class Wrapped:
    """``training-exporter run --slack-webhook-file`` around the trainer, with a sink as Slack."""

    def __init__(self, tmp_path, sink, mode, last, *extra, flags=(), grace="1"):
        self.port = free_port()
        self.metrics = f"http://127.0.0.1:{self.port}/metrics"
        self.log = tmp_path / "train.log"
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "exporter", "run", "--port", str(self.port), "--run", RUN,
             "--grace-seconds", grace, "--poll-interval-seconds", "0.1", "--gpu-sample-interval-seconds", "0.1",
             "--min-progress-timeout-seconds", "1", "--slack-webhook-file",
             sink.write_webhook_file(tmp_path / "slack_webhook_url"), "--log", str(self.log), *flags, "--",
             sys.executable, "-c", textwrap.dedent(TRAINER), mode, str(last), *extra],
            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.scraped: list[str] = []

    def scrape(self) -> str:
        text = requests.get(self.metrics, timeout=5).text
        self.scraped.append(text)
        return text

    def wait_for_metric(self, pattern, timeout=30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                text = self.scrape()
                if re.search(pattern, text, re.MULTILINE):
                    return text
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{pattern!r} not in /metrics after {timeout} s")

    def finish(self, timeout=60) -> tuple[int, str]:
        """The wrapper's status and its log lines; the webhook shows in neither them nor /metrics."""
        _, err = self.process.communicate(timeout=timeout)
        assert PATH not in err and "sinksecret" not in err
        assert not any("sinksecret" in text for text in self.scraped)
        return self.process.returncode, err


@pytest.fixture
def sink_factory():
    sinks = []

    def make(*script):
        sinks.append(SlackSink(*script))
        return sinks[-1]

    yield make
    for sink in sinks:
        sink.close()


def _texts(sink):
    return [body["attachments"][0]["text"] for body in sink.accepted()]


def test_a_stall_pages_once_and_resolves_then_the_finish_is_said_once(tmp_path, sink_factory):
    sink = sink_factory()
    wrapped = Wrapped(tmp_path, sink, "stall", 60, "6", flags=("--alert-for-cap-seconds", "1"))
    returncode, _ = wrapped.finish()
    assert returncode == 0
    assert sink.titles() == [f"CRITICAL: TrainingStalled · run {RUN}", f"RESOLVED: TrainingStalled · run {RUN}",
                             f"INFO: TrainingFinished · run {RUN}"]
    stalled, resolved, finished = _texts(sink)
    assert stalled.startswith(f"*Run {RUN} has printed no progress for ")
    assert "• Iteration: 29 / 60\n" in stalled and "Check first: is the trainer process still alive" in stalled
    assert f"<http://127.0.0.1:{wrapped.port}/|Open the run's page>" in stalled
    assert resolved.startswith(f"*Resolved:* Run {RUN} has printed no progress for ") and ", resolved " in resolved
    assert f"Run {RUN} reached iteration 60." in finished


def test_an_oom_crash_pages_once_naming_it_even_when_the_exporter_stops_inside_for(tmp_path, sink_factory):
    sink = sink_factory()
    returncode, err = Wrapped(tmp_path, sink, "oom", 100).finish()  # the rules' for: 30s, grace 1 s
    assert returncode == 1
    assert sink.titles() == [f"CRITICAL: TrainingCrashed · run {RUN}"]
    assert _texts(sink)[0].startswith(f"*Run {RUN} crashed (CUDA out of memory)*\nRun {RUN} stopped at iteration 29: "
                                      "the log ends with a CUDA out-of-memory error")
    assert "alert TrainingCrashed firing" in err


def test_a_nan_loss_pages_once_and_a_clean_finish_is_said_once(tmp_path, sink_factory):
    nan_sink, done_sink = sink_factory(), sink_factory()
    (tmp_path / "nan").mkdir()
    (tmp_path / "done").mkdir()
    assert Wrapped(tmp_path / "nan", nan_sink, "nan", 60).finish()[0] == 0
    assert nan_sink.titles() == [f"CRITICAL: TrainingLossNotFinite · run {RUN}"]
    text = _texts(nan_sink)[0]
    assert text.startswith(f"*Run {RUN} logged a nan/inf loss*\nRun {RUN} has logged ")
    assert 30 <= int(re.search(r"• Iteration: (\d+) / 60\n", text)[1]) <= 60 and "lower learning rate" in text
    assert Wrapped(tmp_path / "done", done_sink, "finish", 60).finish()[0] == 0
    assert done_sink.titles() == [f"INFO: TrainingFinished · run {RUN}"]


def test_a_page_repeats_at_the_repeat_interval(tmp_path, sink_factory):
    sink = sink_factory()
    wrapped = Wrapped(tmp_path, sink, "nan", 230, flags=("--slack-repeat-interval-seconds", "1"))  # 4 s of nan
    assert wrapped.finish()[0] == 0
    assert set(sink.titles()) == {f"CRITICAL: TrainingLossNotFinite · run {RUN}"} and len(sink.titles()) >= 3
    arrivals = [arrived for arrived, status, _ in sink.requests]
    assert all(later - earlier >= 0.9 for earlier, later in zip(arrivals, arrivals[1:]))


def test_a_429_is_delivered_once_after_its_retry_after(tmp_path, sink_factory):
    sink = sink_factory((429, "2"))
    assert Wrapped(tmp_path, sink, "finish", 60, grace="1").finish()[0] == 0
    (first, refused, _), (second, accepted, body) = sink.requests
    assert (refused, accepted) == (429, 200) and second - first >= 2.0
    assert sink.titles() == [f"INFO: TrainingFinished · run {RUN}"]


def _last_logged_iteration(log) -> int:
    return max(int(m) for m in re.findall(r"^iter (\d+):", log.read_text(), re.MULTILINE))


def test_a_hanging_slack_slows_neither_scrapes_nor_the_follower(tmp_path, sink_factory):
    sink = sink_factory("hang")
    wrapped = Wrapped(tmp_path, sink, "nan", 650)  # 13 s of nan lines; Slack hangs on the first message
    sink.wait_for(lambda s: len(s.requests) == 1, timeout=20, what="the first message never came")
    seconds, lags = [], []
    for _ in range(25):
        logged = _last_logged_iteration(wrapped.log)
        started = time.perf_counter()
        text = wrapped.scrape()
        seconds.append(time.perf_counter() - started)
        lags.append(logged - int(float(re.search(r'^training_iteration\{run="e2e"\} (\S+)', text, re.MULTILINE)[1])))
        time.sleep(0.2)
    assert len(sink.requests) == 1  # still hanging all along
    print(f"scrape seconds during the hang: median {statistics.median(seconds):.4f}, max {max(seconds):.4f}; "
          f"iterations behind the log: max {max(lags)}")
    assert max(seconds) < 0.05
    assert max(lags) <= 25  # half a second of lines at most (the watcher reads every 0.1 s)
    text = wrapped.wait_for_metric(r"^training_exporter_slack_messages_sent_total 1\.0$")
    assert "training_exporter_slack_send_failures_total 0.0" in text
    assert wrapped.finish()[0] == 0
    assert sink.titles() == [f"CRITICAL: TrainingLossNotFinite · run {RUN}"]


def test_a_refused_message_is_counted_and_the_url_is_in_no_log_line_even_verbose(tmp_path, sink_factory):
    sink = sink_factory((404, None))
    wrapped = Wrapped(tmp_path, sink, "finish", 60, flags=("--verbose",), grace="30")
    text = wrapped.wait_for_metric(r"^training_exporter_slack_send_failures_total 1\.0$")
    assert 'training_exporter_alerts_firing{alertname="TrainingFinished"} 1.0' in text
    wrapped.process.send_signal(signal.SIGTERM)  # ends the grace period
    returncode, err = wrapped.finish()
    assert returncode == 0 and sink.titles() == []
    assert f"message 'INFO: TrainingFinished · run {RUN}' to slack-webhook-file not sent: HTTP 404 no_service" in err


# Stands in for pynvml in the exporter process: GPU 0 runs 1 °C from its slowdown threshold (92 °C);
# GPU 1 falls off the bus once the file LOSE exists.
FAKE_PYNVML = """import os, sys, threading, time
sys.path.insert(0, {tests!r})
from fake_nvml import FakeNvml, fake_gpus
_gpus = fake_gpus(2)
_gpus[0].temperature = 91
def _lose():
    while not os.path.exists({lose!r}):
        time.sleep(0.05)
    _gpus[1].lost = True
threading.Thread(target=_lose, daemon=True).start()
sys.modules[__name__] = FakeNvml(_gpus)
"""


def test_a_hot_gpu_and_a_lost_gpu_each_send_their_alert(tmp_path, sink_factory):
    sink = sink_factory()
    shim, lose = tmp_path / "fake-nvml", tmp_path / "lose"
    shim.mkdir()
    (shim / "pynvml.py").write_text(FAKE_PYNVML.format(tests=str(REPO / "tests"), lose=str(lose)))
    log = tmp_path / "train.log"
    log.write_text("".join(f"iter {i}: loss 3.5000, time 20.00ms, mfu 30.00%\n" for i in range(20)))
    flags = ("--log", str(log), "--run", RUN, "--gpu-sample-interval-seconds", "0.1", "--alert-for-cap-seconds", "1",
             "--slack-webhook-file", sink.write_webhook_file(tmp_path / "hook"))
    with ExporterProcess(*flags, import_first=shim) as exporter:
        sink.wait_for(lambda s: s.titles(), timeout=30, what="no thermal alert")
        lose.write_text("")
        sink.wait_for(lambda s: len(s.titles()) == 2, timeout=30, what="no GPU lost alert")
        time.sleep(2)
        assert "sinksecret" not in exporter.scrape()
    assert sink.titles() == ["WARNING: GpuThermalThrottling · GPU 0", "CRITICAL: GpuLost · GPU 1"]
    hot, lost = _texts(sink)
    assert hot.startswith("*GPU 0 is slowing down for heat (91 °C)*\nGPU 0 is at 91 °C (slowdown at 92 °C)")
    assert f"• Run: {RUN}\n• GPU: NVIDIA GeForce RTX 4090\n" in hot
    assert lost.startswith("*GPU 1 stopped answering (lost from the driver)*\nNVML no longer answers for GPU 1 (GPU-")
    assert "sinksecret" not in exporter.output()
