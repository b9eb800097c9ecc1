"""``--notify-file`` end to end: a trainer writes nan losses under ``training-exporter run``, the
notify file names three webhooks on 127.0.0.1 through apprise: one that answers a byte a second
(cut at the post's deadline, then accepting), one that answers 429 with Retry-After, one that
answers at once. Scrapes and the log follower never wait; the quick one gets its message at once;
each destination ends counted; no address shows in a log line or a metric. ``notify-test`` reports
per destination."""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import textwrap
import time

import requests

from exporter_process import REPO, free_port
from test_slack_e2e import TRAINER, _last_logged_iteration

RUN = "notify-e2e"


def _notify_file(tmp_path, *urls) -> str:
    path = tmp_path / "notify"
    path.write_text("".join(url + "\n" for url in urls))
    os.chmod(path, 0o600)
    return str(path)


def _scrape(url: str) -> tuple[float, str]:
    started = time.perf_counter()
    text = requests.get(url, timeout=5).text
    return time.perf_counter() - started, text


def _wait_for(url: str, pattern: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = requests.get(url, timeout=5).text
        if re.search(pattern, text, re.MULTILINE):
            return text
        time.sleep(0.2)
    raise AssertionError(f"{pattern!r} not in /metrics after {timeout} s:\n{text}")


def test_slow_and_rate_limited_destinations_hold_up_neither_scrapes_nor_each_other(tmp_path, sinks):
    slow, limited, quick = sinks("slow"), sinks((429, "3")), sinks()
    notify = _notify_file(tmp_path, slow.url(), limited.url(), quick.url())
    port = free_port()
    metrics = f"http://127.0.0.1:{port}/metrics"
    log = tmp_path / "train.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "exporter", "run", "--port", str(port), "--run", RUN, "--grace-seconds", "30",
         "--poll-interval-seconds", "0.1", "--notify-file", notify, "--log", str(log), "--verbose", "--",
         sys.executable, "-c", textwrap.dedent(TRAINER), "nan", "650"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True)
    try:
        quick.wait_for(1, 30)
        seconds, lags, scraped = [], [], []
        for _ in range(25):  # while the slow one is mid-answer and the limited one waits
            logged = _last_logged_iteration(log)
            took, text = _scrape(metrics)
            seconds.append(took)
            scraped.append(text)
            lags.append(logged - int(float(re.search(rf'^training_iteration\{{run="{RUN}"\}} (\S+)', text,
                                                     re.MULTILINE)[1])))
            time.sleep(0.2)
        print(f"scrape seconds: median {statistics.median(seconds):.4f}, max {max(seconds):.4f}; "
              f"iterations behind the log: max {max(lags)}")
        assert max(seconds) < 0.05 and max(lags) <= 25
        text = _wait_for(metrics, r'^training_exporter_notifications_sent_total\{destination="json#1"\} 1\.0$', 40)
        scraped.append(text)
        for name in ("json#1", "json#2", "json#3"):
            assert f'training_exporter_notifications_sent_total{{destination="{name}"}} 1.0' in text
            assert f'training_exporter_notifications_given_up_total{{destination="{name}"}} 0.0' in text
    finally:
        process.terminate()
        _, err = process.communicate(timeout=60)
    assert slow.answered == ["slow", 200] and limited.answered == [(429, "3"), 200]
    assert limited.requests[1].at - limited.requests[0].at >= 3.0
    assert quick.requests[0].at < slow.requests[1].at
    titles = {r.json()["title"] for sink in (slow, limited, quick) for r in sink.bodies()}
    assert titles == {f"CRITICAL: TrainingLossNotFinite · run {RUN}"}
    for sink in (slow, limited, quick):
        address = f"127.0.0.1:{sink.port}"  # the port alone can be part of a number (a timestamp)
        assert address not in err and not any(address in t for t in scraped)
    assert "json#1: attempt 1 failed (no complete answer before the deadline); retrying" in err


def test_notify_test_reports_each_destination(tmp_path, sinks):
    good, refusing = sinks(), sinks(404)
    notify = _notify_file(tmp_path, good.url(), refusing.url())
    done = subprocess.run([sys.executable, "-m", "exporter", "notify-test", "--notify-file", notify],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60)
    assert done.returncode == 1, done.stderr
    assert done.stdout.splitlines() == [
        "json#1: accepted the test message",
        "json#2: did not accept the test message: HTTP 404",
        f"1 of 2 destinations did not accept it; check their lines in {notify} (the service's answer is above)"]
    assert good.bodies()[0].json()["title"] == "training-exporter: test message"
    assert f"127.0.0.1:{good.port}" not in done.stdout + done.stderr
