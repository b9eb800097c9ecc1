"""Delivery through apprise to real HTTP destinations on 127.0.0.1 that misbehave: a 429 with
Retry-After pauses that destination only, and a Retry-After past the message's usefulness gives it
up at once; 500 then 200 delivers once; a server that sends a byte a second is cut at the post's
deadline; a reply cut after ``Content-Le`` is retried; what is still queued at exit is counted.
Every message ends counted once, per destination, and no log line holds an address."""

import logging
import os
import time


from exporter.alerts.alert import Active
from exporter.alerts.engine import FIRING, Notification
from exporter.notify.outbox import Policy
from exporter.notify.sender import Files, Notifications

STALLED = Active("TrainingStalled", (), "Run gpt2 has printed no progress for 3 min",
                 "Check first: is the trainer alive?", (("Iteration", "500 / 5000"),))
FAST = Policy(deadline_seconds=2.0, attempts=3, first_wait_seconds=0.2)


def _notify_file(tmp_path, *urls):
    path = tmp_path / "notify"
    path.write_text("# alerts of the lab\n" + "".join(url + "\n" for url in urls))
    os.chmod(path, 0o600)
    return str(path)


def _notifications(tmp_path, *urls, policy=FAST, useful_seconds=3600.0):
    return Notifications(Files(notify_file=_notify_file(tmp_path, *urls)), "http://box:9842/",
                         useful_seconds=useful_seconds, policy=policy)


def _stalled():
    now = time.time()
    return Notification(FIRING, STALLED, "gpt2", now, now)


def test_a_json_webhook_gets_the_message_as_plain_text(tmp_path, sinks):
    sink = sinks()
    sender = _notifications(tmp_path, sink.url())
    sender.notify(_stalled())
    (request,) = sink.wait_for(1, 10)
    sender.stop()
    body = request.json()
    assert request.path == "/hook" and request.headers["content-type"].startswith("application/json")
    assert body["title"] == "CRITICAL: TrainingStalled · run gpt2" and body["type"] == "failure"
    assert body["message"].splitlines()[:3] == ["Run gpt2 has printed no progress for 3 min",
                                                "Check first: is the trainer alive?", "• Iteration: 500 / 5000"]
    assert body["message"].endswith("Open the run's page: http://box:9842/") and "**" not in body["message"]
    assert sender.counts() == {"json#2": (1, 0)}


def test_a_429_pauses_that_destination_only(tmp_path, sinks, caplog):
    caplog.set_level(logging.DEBUG)
    limited, other = sinks((429, "2")), sinks()
    sender = _notifications(tmp_path, limited.url(), other.url())
    started = time.monotonic()
    sender.notify(_stalled())
    sender.notify(_stalled())
    other.wait_for(2, 10)
    assert time.monotonic() - started < 1.5, "the other destination did not wait for the 429"
    first, second, third = [r.at for r in limited.wait_for(2, 15) and limited.requests]
    assert second - first >= 2.0, "the Retry-After was not honoured"
    sender.stop()
    assert sender.counts() == {"json#2": (2, 0), "json#3": (2, 0)}
    assert "json#2 asked to wait 2 s (HTTP 429)" in caplog.text and str(limited.port) not in caplog.text


def test_a_retry_after_past_the_messages_usefulness_gives_it_up_at_once(tmp_path, sinks, caplog):
    limited, other = sinks((429, "3600")), sinks()
    sender = _notifications(tmp_path, limited.url(), other.url(), useful_seconds=60)
    started = time.monotonic()
    sender.notify(_stalled())
    other.wait_for(1, 10)
    deadline = time.monotonic() + 10
    while sender.counts()["json#2"] != (0, 1):
        assert time.monotonic() < deadline, sender.counts()
        time.sleep(0.05)
    assert time.monotonic() - started < 5
    sender.stop()
    assert sender.counts() == {"json#2": (0, 1), "json#3": (1, 0)} and len(limited.requests) == 1
    assert "past its usefulness" in caplog.text


def test_500_then_200_delivers_once(tmp_path, sinks):
    sink = sinks(500)
    sender = _notifications(tmp_path, sink.url())
    sender.notify(_stalled())
    sink.wait_for(1, 10)
    sender.stop()
    assert sink.answered == [500, 200] and sink.requests[1].at - sink.requests[0].at >= 0.2
    assert sender.counts() == {"json#2": (1, 0)}


def test_a_server_sending_a_byte_a_second_is_cut_at_the_deadline(tmp_path, sinks, caplog):
    slow, other = sinks("slow", "slow", "slow"), sinks()
    sender = _notifications(tmp_path, slow.url(), other.url())
    started = time.monotonic()
    sender.notify(_stalled())
    other.wait_for(1, 10)
    assert time.monotonic() - started < 1.5, "the other destination waited for the slow one"
    deadline = time.monotonic() + 30
    while sender.counts()["json#2"] != (0, 1):
        assert time.monotonic() < deadline, sender.counts()
        time.sleep(0.05)
    took = time.monotonic() - started
    # three posts of at most 2 s each, waits of 0.2 and 0.4 s: not the minutes a per-read timeout allows
    assert 6.0 <= took < 12.0, took
    sender.stop()
    assert len(slow.requests) == 3
    assert "no complete answer before the deadline after 3 attempts" in caplog.text


def test_a_reply_cut_short_is_retried(tmp_path, sinks):
    sink = sinks("cut")
    sender = _notifications(tmp_path, sink.url())
    sender.notify(_stalled())
    sink.wait_for(1, 10)
    sender.stop()
    assert sink.answered == ["cut", 200] and sender.counts() == {"json#2": (1, 0)}


def test_what_is_queued_at_exit_is_counted_and_logged(tmp_path, sinks, caplog):
    sink = sinks("slow")
    sender = _notifications(tmp_path, sink.url(), policy=Policy(deadline_seconds=30, attempts=1))
    for _ in range(3):
        sender.notify(_stalled())
    sink.wait_for(1, 10, status="slow")
    sender.stop(drain_seconds=0.5)
    assert sender.counts() == {"json#2": (0, 3)}
    assert caplog.text.count("to json#2 not sent: the exporter stopped first") == 3


def test_a_changed_file_is_read_for_the_next_message(tmp_path, sinks):
    first, second = sinks(), sinks()
    sender = _notifications(tmp_path, first.url())
    sender.notify(_stalled())
    first.wait_for(1, 10)
    _notify_file(tmp_path, second.url())
    sender.notify(_stalled())
    second.wait_for(1, 10)
    sender.stop()
    assert len(first.requests) == 1 and sender.counts() == {"json#2": (2, 0)}


def test_the_slack_webhook_file_post_has_the_same_deadline_and_knows_a_cut_reply(sinks):
    from exporter.notify.render import test_message
    from exporter.notify.slack import post_message

    sink = sinks("cut", "slow")
    url, message = sink.url("http", "/services/T0/B0/x"), test_message("trainbox", None)
    assert post_message(url, message, 2.0).why == "the answer was cut short"
    started = time.monotonic()
    assert post_message(url, message, 1.5).why == "no complete answer before the deadline"
    assert time.monotonic() - started < 3.0
    assert post_message(url, message, 2.0).delivered
    assert sink.requests[-1].json()["attachments"][0]["title"] == "training-exporter: test message"


def test_a_retry_after_of_years_pauses_no_longer_than_the_longest_pause(tmp_path, sinks):
    sink = sinks((429, "99999999"))
    sender = _notifications(tmp_path, sink.url(), useful_seconds=60,
                            policy=Policy(deadline_seconds=2.0, first_wait_seconds=0.1, longest_pause_seconds=0.5))
    sender.notify(_stalled())
    first, second = sink.wait_for(1, 10) and sink.requests
    sender.stop()
    assert 0.5 <= second.at - first.at < 2.0 and sender.counts() == {"json#2": (1, 0)}
