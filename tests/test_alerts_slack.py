"""Sending to Slack: the webhook file is checked at load and never shown; the sender retries on
no answer, 429 (after its Retry-After) and 5xx, gives up on other refusals, never blocks its
caller, and counts what it gave up; messages carry the Alertmanager template's content;
``slack-test`` says whether Slack accepted its message. (The sending engine for every destination
is tested in test_notify_outbox.py.)"""

import logging
import os
import subprocess
import sys
import threading
import time
from email.utils import formatdate

import pytest

from exporter.alerts import AlertEngine
from exporter.alerts.alert import RULES, Active
from exporter.alerts.engine import FIRING, RESOLVED, Notification
from exporter.notify.messages import payload
from exporter.notify.outbox import Policy
from exporter.notify.outcome import DELIVERED, from_status, no_answer, retry_after_seconds
from exporter.notify.sender import Files, Notifications
from exporter.collectors.alerts import AlertsCollector
from exporter.collectors.base import CollectorStats
from exporter.notify.webhook import read_webhook_url
from exporter.commands.config import ConfigError, load
from exporter.errors import UsageError
from exporter_process import REPO
from slack_sink import PATH, SlackSink
from test_alerts_engine import NAN, T0
from test_training_collector import exposition

URL = "https://hooks.slack.com/services/T000/B000/SeCrEt0123456789"
STALLED = Active("TrainingStalled", (), "Run gpt2 has printed no progress for 3 min",
                 "Run gpt2 has printed no progress line for 3 min. Check first: is the trainer alive?",
                 (("Iteration", "500 / 5000"), ("ETA", "65 min"), ("Cost so far", "0.072 EUR")))
SINCE = 1_800_000_000.0  # 2027-01-15 08:00 UTC


@pytest.fixture
def webhook(tmp_path):
    path = tmp_path / "slack_webhook_url"
    path.write_text(URL + "\n")
    return str(path)


class Answers:
    """A post function answering from a list of Outcomes, noting when and with what."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.calls = []

    def __call__(self, url, message, seconds):
        self.calls.append((time.monotonic(), url, seconds, message))
        return self.answers.pop(0) if self.answers else DELIVERED


def _notifications(webhook, post, **policy):
    return Notifications(Files(slack_webhook_file=webhook), "http://box:9842/",
                         policy=Policy(**{"first_wait_seconds": 0.01, **policy}),
                         poster_of=lambda destination, link: post)


@pytest.mark.parametrize("content", ["", "hooks.slack.com/services/T/B/X", "http://hooks.slack.com/services/T/B/X",
                                     "https:///services/T/B/X", "https://hooks.slack.com/a b", "\xff\xfe"])
def test_a_webhook_file_without_an_https_url_is_refused_without_showing_it(tmp_path, content):
    path = tmp_path / "hook"
    path.write_bytes(content.encode("latin-1"))
    with pytest.raises(UsageError) as error:
        read_webhook_url(str(path))
    message = str(error.value)
    assert f"the Slack webhook file {path} does not hold an https:// URL" in message
    assert "alone in that file" in message and (not content.strip() or content not in message)


def test_a_missing_webhook_file_is_a_configuration_mistake_naming_the_fix(tmp_path):
    with pytest.raises(ConfigError) as error:
        load(None, {"slack_webhook_file": str(tmp_path / "nope")})
    assert error.value.problems == [
        f"slack_webhook_file: cannot read the Slack webhook file {tmp_path / 'nope'}: No such file or directory; "
        "put the Slack incoming-webhook URL (https://hooks.slack.com/services/...) alone in that file, readable "
        "only by you (chmod 600)"]


def test_https_and_a_relay_on_this_machine_are_accepted(tmp_path):
    for url in (URL, "http://127.0.0.1:8080/hook", "http://localhost/x", "http://[::1]:9/x"):
        (tmp_path / "hook").write_text(f"  {url}\n")
        assert read_webhook_url(str(tmp_path / "hook")) == url


def test_5xx_and_no_answer_are_retried_with_growing_waits(webhook):
    post = Answers(from_status(503, None, 0, "busy"), no_answer("TimeoutError"))
    sender = _notifications(webhook, post, first_wait_seconds=0.05, deadline_seconds=7.0)
    sender.notify(Notification(FIRING, STALLED, "gpt2", time.time(), time.time()))
    sender.stop(drain_seconds=5)
    assert sender.counts() == {"slack-webhook-file": (1, 0)}
    times = [t for t, *_ in post.calls]
    assert len(times) == 3 and times[1] - times[0] >= 0.05 and times[2] - times[1] >= 0.1
    assert {(url, seconds) for _, url, seconds, _ in post.calls} == {(URL, 7.0)}
    assert post.calls[0][3].slack["attachments"][0]["title"] == "CRITICAL: TrainingStalled · run gpt2"


def test_a_429_waits_its_retry_after(webhook):
    post = Answers(from_status(429, "0.4", 0, "rate_limited"))
    sender = _notifications(webhook, post)
    sender.notify(Notification(FIRING, STALLED, "gpt2", time.time(), time.time()))
    sender.stop(drain_seconds=5)
    assert sender.counts() == {"slack-webhook-file": (1, 0)}
    assert post.calls[1][0] - post.calls[0][0] >= 0.4


def test_a_refusal_is_not_retried_and_the_url_never_reaches_the_log(webhook, caplog):
    caplog.set_level(logging.DEBUG)
    post = Answers(from_status(404, None, 0, "no_service"), *[no_answer("ConnectionRefusedError")] * 3)
    sender = _notifications(webhook, post, attempts=3)
    now = time.time()
    sender.notify(Notification(FIRING, STALLED, "gpt2", now, now))
    sender.notify(Notification(RESOLVED, STALLED, "gpt2", now, now))
    sender.stop(drain_seconds=5)
    assert sender.counts() == {"slack-webhook-file": (0, 2)} and len(post.calls) == 4
    assert ("message 'CRITICAL: TrainingStalled · run gpt2' to slack-webhook-file not sent: HTTP 404 no_service"
            in caplog.text)
    assert ("message 'RESOLVED: TrainingStalled · run gpt2' to slack-webhook-file not sent: no answer "
            "(ConnectionRefusedError) after 3 attempts" in caplog.text)
    assert "SeCrEt" not in caplog.text


def test_a_full_queue_drops_and_counts_without_waiting(webhook):
    gate = threading.Event()
    sender = _notifications(webhook, lambda url, message, seconds: gate.wait(5) and DELIVERED, queue_size=2)
    started = time.monotonic()
    for _ in range(5):
        sender.notify(Notification(FIRING, STALLED, "gpt2", time.time(), time.time()))
    assert time.monotonic() - started < 0.5 and sender.counts()["slack-webhook-file"][1] == 3
    sender.stop(drain_seconds=0)  # what is queued is given up
    gate.set()
    assert sender.counts() == {"slack-webhook-file": (0, 5)}


def test_retry_after_is_seconds_or_an_http_date():
    now = time.time()
    assert retry_after_seconds("30", now) == 30.0
    assert retry_after_seconds(formatdate(now + 20, usegmt=True), now) == pytest.approx(20, abs=1)
    assert retry_after_seconds("soon", now) is None and retry_after_seconds(None, now) is None
    assert retry_after_seconds("nan", now) is None and retry_after_seconds("-5", now) == 0.0


def test_a_firing_message_has_the_templates_lines_and_a_resolution_is_short():
    link = "http://trainbox:9842/"
    firing = payload(Notification(FIRING, STALLED, "gpt2", SINCE, SINCE), link)["attachments"][0]
    assert firing["title"] == "CRITICAL: TrainingStalled · run gpt2" and firing["color"] == "danger"
    assert firing["title_link"] == link
    assert firing["text"] == (
        "*Run gpt2 has printed no progress for 3 min*\n"
        "Run gpt2 has printed no progress line for 3 min. Check first: is the trainer alive?\n"
        "• Iteration: 500 / 5000\n• ETA: 65 min\n• Cost so far: 0.072 EUR\n"
        "• Since: 2027-01-15 08:00 UTC\n<http://trainbox:9842/|Open the run's page>")
    resolved = payload(Notification(RESOLVED, STALLED, "gpt2", SINCE, SINCE + 600), link)["attachments"][0]
    assert resolved["title"] == "RESOLVED: TrainingStalled · run gpt2" and resolved["color"] == "good"
    assert resolved["text"] == ("*Resolved:* Run gpt2 has printed no progress for 3 min\n"
                                "• Since: 2027-01-15 08:00 UTC, resolved 08:10 UTC\n"
                                "<http://trainbox:9842/|Open the run's page>")


def test_gpu_and_info_titles_and_colours():
    lost = Active("GpuLost", (("gpu", "1"), ("uuid", "GPU-x")), "GPU 1 stopped answering", "d")
    assert payload(Notification(FIRING, lost, "gpt2", SINCE, SINCE), "l")["attachments"][0]["title"] == \
        "CRITICAL: GpuLost · GPU 1"
    done = payload(Notification(FIRING, Active("TrainingFinished", (), "s", "d"), "gpt2", SINCE, SINCE), "l")
    assert done["attachments"][0]["color"] == "#439FE0"
    assert done["attachments"][0]["title"] == "INFO: TrainingFinished · run gpt2"


def _slack_test(*flags):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "exporter", "slack-test", *flags], capture_output=True, text=True,
                          env=env, timeout=60)


def test_a_missing_webhook_file_stops_serve_and_run_before_the_trainer_starts(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    flags = ["--log", str(tmp_path / "train.log"), "--slack-webhook-file", str(tmp_path / "hook")]
    trainer = ["--", sys.executable, "-c", "open('started', 'w')"]
    for command in (["serve", *flags], ["run", *flags, *trainer]):
        done = subprocess.run([sys.executable, "-m", "exporter", *command], capture_output=True, text=True, env=env,
                              timeout=60, cwd=tmp_path)
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert f"slack_webhook_file: cannot read the Slack webhook file {tmp_path / 'hook'}" in done.stderr
    assert not (tmp_path / "started").exists()


def test_slack_test_says_whether_slack_accepted_its_message(tmp_path):
    sink = SlackSink(200, (404, None))
    try:
        hook = sink.write_webhook_file(tmp_path / "hook")
        accepted = _slack_test("--slack-webhook-file", hook)
        assert accepted.returncode == 0 and f"Slack accepted the test message (webhook in {hook})" in accepted.stdout
        assert sink.titles() == ["training-exporter: test message"]
        refused = _slack_test("--slack-webhook-file", hook)
        assert refused.returncode == 1
        assert f"Slack did not accept the test message: HTTP 404 no_service; check the webhook URL in {hook}" \
            in refused.stdout
        missing = _slack_test("--slack-webhook-file", str(tmp_path / "none"))
        assert missing.returncode == 2 and "cannot read the Slack webhook file" in missing.stderr
        assert not any(PATH in text for run in (accepted, refused, missing) for text in (run.stdout, run.stderr))
    finally:
        sink.close()


def test_the_collector_shows_what_fires_and_the_slack_counts_only_when_slack_is_on(webhook):
    quiet = exposition(AlertsCollector(AlertEngine(), CollectorStats()))
    assert "training_exporter_slack" not in quiet and "training_exporter_notifications" not in quiet
    assert quiet.count("training_exporter_alerts_firing{") == len(RULES)
    gate = threading.Event()
    sender = _notifications(webhook, lambda url, message, seconds: gate.wait(5) and DELIVERED)
    alerts = AlertEngine(notifier=sender)
    alerts.tick(NAN, (), T0)
    sender.stop(drain_seconds=0)  # still queued: given up
    gate.set()
    text = exposition(AlertsCollector(alerts, CollectorStats()))
    assert 'training_exporter_alerts_firing{alertname="TrainingLossNotFinite"} 1.0' in text
    assert 'training_exporter_alerts_firing{alertname="TrainingStalled"} 0.0' in text
    assert "training_exporter_slack_messages_sent_total 0.0" in text
    assert "training_exporter_slack_send_failures_total 1.0" in text
    assert 'training_exporter_notifications_given_up_total{destination="slack-webhook-file"} 1.0' in text
