"""End to end on loopback: a writer appends nanoGPT lines to a log, the real exporter follows it, a real
Prometheus (the project's rules, `for:` capped at 2 s) scrapes it every second and a real Alertmanager
(the project's config and Slack templates) posts to a local HTTP sink standing in for Slack.
Writer stops -> a Slack message for TrainingStalled naming the run and the last iteration; writer
resumes -> the resolved message.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import write_log
from exporter_process import ExporterProcess

RUN = "e2e-gpt"
MIN_PROGRESS_TIMEOUT_SECONDS = 5
STALL_DEADLINE_SECONDS = 40
RESOLVE_DEADLINE_SECONDS = 30


@pytest.fixture(scope="module", autouse=True)
def _binaries_installed(local_stack):
    """Skips the module, before anything is started, where Prometheus or Alertmanager is missing."""
    missing = local_stack.missing_binaries()
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)} (Debian: apt-get install prometheus prometheus-alertmanager)")


class SlackSink:
    """An HTTP server on 127.0.0.1 that records JSON POSTs and answers like a Slack webhook ("ok")."""

    def __init__(self) -> None:
        self.messages: list[dict] = []
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with sink._lock:
                    sink.messages.append({"path": self.path, "content_type": self.headers.get("Content-Type"),
                                          "json": json.loads(body)})
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T000/B000/XXXX"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def count(self) -> int:
        with self._lock:
            return len(self.messages)

    def find(self, predicate, since: int = 0) -> dict | None:
        """The first message from index ``since`` on whose JSON body satisfies ``predicate``."""
        with self._lock:
            return next((m for m in self.messages[since:] if predicate(m["json"])), None)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class LogWriter:
    """Appends nanoGPT progress lines (one iteration every 0.2 s, 170 ms each) while not paused."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.iteration = -1
        self._running = threading.Event()
        self._stop = threading.Event()
        write_log(path, [
            "tokens per iteration will be: 32,768",
            "Initializing a new model from scratch",
            "number of parameters: 40.56M",
        ])
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            if self._running.wait(0.05) and not self._stop.is_set():
                iteration = self.iteration + 1
                lines = [f"iter {iteration}: loss {4.5 - iteration * 0.001:.4f}, time 170.00ms, mfu 31.20%"]
                if iteration and iteration % 100 == 0:
                    lines.insert(0, f"step {iteration}: train loss 4.1000, val loss 4.2000")
                write_log(self.path, lines, append=True)
                self.iteration = iteration
                time.sleep(0.2)

    def start(self) -> None:
        self._running.set()
        if not self._thread.is_alive():
            self._thread.start()

    def pause(self) -> int:
        """Stop writing; the last iteration written."""
        self._running.clear()
        time.sleep(0.3)  # let a line being written finish
        return self.iteration

    def close(self) -> None:
        self._stop.set()
        self._running.set()
        if self._thread.is_alive():  # a test that writes its own lines never starts it
            self._thread.join(timeout=5)


def _diagnostics(stack, sink) -> str:
    """What Prometheus, Alertmanager and the sink saw, for a failure message."""
    lines = [f"sink messages: {json.dumps([m['json'] for m in sink.messages])[:3000]}"]
    try:
        for expr in (f'training_state{{run="{RUN}"}} == 1', f'training_iteration{{run="{RUN}"}}',
                     f'time() - training_last_progress_timestamp_seconds{{run="{RUN}"}}',
                     f'training_progress_timeout_seconds{{run="{RUN}"}}', "up"):
            lines.append(f"{expr}: {stack.query(expr)}")
        lines.append(f"Prometheus alerts: {stack.alerts()}")
        lines.append(f"Alertmanager alerts: {stack.alertmanager_alerts()}")
    except Exception as exc:  # the stack itself may be what broke
        lines.append(f"querying the stack failed: {exc!r}")
    return "\n".join(lines)


def _wait_for_message(stack, sink, predicate, since: int, timeout: float, what: str) -> dict:
    try:
        return stack.wait_until(lambda: sink.find(predicate, since), timeout, what=what)
    except TimeoutError as exc:
        raise AssertionError(f"{exc}\n{_diagnostics(stack, sink)}") from None


def _stalled(message: dict, status: str) -> bool:
    attachment = message["attachments"][0]
    title = attachment["title"]
    return "TrainingStalled" in title and title.startswith("RESOLVED" if status == "resolved" else "CRITICAL")


@pytest.fixture
def sink():
    sink = SlackSink()
    yield sink
    sink.close()


@pytest.fixture
def writer(tmp_path):
    writer = LogWriter(tmp_path / "train.log")
    yield writer
    writer.close()


@pytest.fixture
def exporter(writer):
    with ExporterProcess("--log", str(writer.path), "--run", RUN, "--listen-address", "127.0.0.1",
                         "--min-progress-timeout-seconds", str(MIN_PROGRESS_TIMEOUT_SECONDS),
                         "--max-iters", "100000") as process:
        yield process.port


@pytest.fixture
def stack(tmp_path, exporter, sink, local_stack):
    webhook_file = tmp_path / "slack_webhook_url"
    webhook_file.write_text(sink.url + "\n")
    with local_stack.LocalStack(
        exporter_port=exporter, workdir=tmp_path / "stack", slack_url_file=webhook_file,
        scrape_interval="1s", for_cap="2s", group_wait="1s", group_interval="1s",
        alert_resend_delay="1s",
    ) as stack:
        yield stack


def test_stall_pages_slack_with_run_and_iteration_then_resolves(stack, writer, sink, tmp_path):
    started = time.monotonic()
    writer.start()
    stack.wait_for_target("training-exporter", timeout=20)
    stack.wait_until(
        lambda: (stack.query_value(f'training_iteration{{run="{RUN}"}}') or 0) >= 20
        and stack.query_value(f'training_state{{run="{RUN}",state="running"}}') == 1,
        timeout=30, what="the exporter reports a running run in Prometheus",
    )
    assert not any(a["labels"]["alertname"] == "TrainingStalled" for a in stack.alerts())

    last_iteration = writer.pause()
    paused_at = sink.count()
    stalled = _wait_for_message(stack, sink, lambda m: _stalled(m, "firing"), paused_at, STALL_DEADLINE_SECONDS,
                                "Slack message for TrainingStalled")
    attachment = stalled["json"]["attachments"][0]
    assert stalled["content_type"].startswith("application/json")
    assert stalled["path"] == "/services/T000/B000/XXXX"
    assert RUN in attachment["title"]
    assert f"Run {RUN} has printed no progress" in attachment["text"]
    assert f"Last iteration {last_iteration}," in attachment["text"]
    assert f"Iteration: {last_iteration} / 100000" in attachment["text"]
    assert attachment["color"] == "danger"
    assert f"var-run={RUN}" in attachment["title_link"]
    assert sink.find(lambda m: _stalled(m, "resolved"), paused_at) is None

    resumed_at = sink.count()
    writer.start()
    resolved = _wait_for_message(stack, sink, lambda m: _stalled(m, "resolved"), resumed_at,
                                 RESOLVE_DEADLINE_SECONDS, "Slack message resolving TrainingStalled")
    attachment = resolved["json"]["attachments"][0]
    assert RUN in attachment["title"]
    assert "*Resolved:*" in attachment["text"]
    assert attachment["color"] == "good"
    assert time.monotonic() - started < 110


def _spike_lines(first: int, last: int, factor: float = 1.0) -> list[str]:
    return [f"iter {i}: loss {factor * (4.5 - i * 0.001) * (1 + 0.01 * (i % 3)):.4f}, time 170.00ms, mfu 31.20%"
            for i in range(first, last + 1)]


def test_a_loss_spike_that_does_not_come_back_reaches_slack_as_a_warning(stack, writer, sink):
    write_log(writer.path, _spike_lines(0, 60), append=True)  # a baseline: detection starts after 16 losses
    stack.wait_for_target("training-exporter", timeout=20)
    stack.wait_until(lambda: len(stack.query(f'training_loss_spike_alarms_total{{run="{RUN}"}}[5s]')) == 2
                     and stack.query_value(f'training_iteration{{run="{RUN}"}}') == 60,
                     timeout=30, what="Prometheus has the spike alarm counters of the healthy start")
    before = sink.count()
    write_log(writer.path, _spike_lines(61, 80, factor=3.0), append=True)  # tripled for 20 iterations
    message = _wait_for_message(stack, sink, lambda m: "TrainingLossSpike" in m["attachments"][0]["title"], before,
                                STALL_DEADLINE_SECONDS, "Slack message for TrainingLossSpike")
    attachment = message["json"]["attachments"][0]
    assert attachment["title"].startswith("WARNING") and RUN in attachment["title"]
    assert f"Run {RUN}: the training loss spiked and has not come back" in attachment["text"]
    assert f"Run {RUN} has had 1 loss spike(s); the latest began at iteration 61 and reached 3." in attachment["text"]
    assert "Iteration: 80 / 100000" in attachment["text"] and attachment["color"] == "warning"
