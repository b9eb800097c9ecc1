"""``notify-test`` and ``slack-test``: one test message to each destination, now, with a few quick
retries, and one line per destination saying whether it was accepted (never the address)."""

from __future__ import annotations

import socket
import time

from exporter.errors import UsageError
from exporter.notify.destinations import Destination, read_destinations
from exporter.notify.outbox import Post
from exporter.notify.outcome import Outcome
from exporter.notify.render import Message, test_message
from exporter.notify.sender import poster

ATTEMPTS = 3
DEADLINE_SECONDS = 10.0
LONGEST_WAIT_SECONDS = 30.0


def deliver_now(post: Post, url: str, message: Message) -> Outcome:
    """Post ``message`` with up to ``ATTEMPTS`` tries, waiting between them as the service asks
    (at most ``LONGEST_WAIT_SECONDS``)."""
    wait = 1.0
    for attempt in range(1, ATTEMPTS + 1):
        outcome = post(url, message, DEADLINE_SECONDS)
        if outcome.delivered or outcome.final or attempt == ATTEMPTS:
            return outcome
        time.sleep(min(outcome.retry_after if outcome.retry_after is not None else wait, LONGEST_WAIT_SECONDS))
        wait *= 2
    return outcome


def _report(destination: Destination, outcome: Outcome) -> str:
    if outcome.delivered:
        return f"{destination.name}: accepted the test message"
    return f"{destination.name}: did not accept the test message: {outcome.why}"


def notify_test(notify_file: str | None, slack_webhook_file: str | None, link: str | None = None,
                poster_of=poster) -> int:
    """One test message to every destination; 0 when all accepted it, 1 when any did not."""
    if not notify_file and not slack_webhook_file:
        raise UsageError("no destination: pass --notify-file PATH (one apprise URL per line) or "
                         "--slack-webhook-file PATH")
    destinations = read_destinations(notify_file, slack_webhook_file)
    message = test_message(socket.gethostname(), link)
    failed = 0
    for destination in destinations:
        outcome = deliver_now(poster_of(destination, link or ""), destination.url, message)
        failed += not outcome.delivered
        print(_report(destination, outcome), flush=True)
    if failed:
        print(f"{failed} of {len(destinations)} destinations did not accept it; check their lines in "
              f"{notify_file or slack_webhook_file} (the service's answer is above)")
    return 1 if failed else 0


def slack_test(webhook_file: str | None, link: str | None = None, poster_of=poster) -> int:
    """``notify-test`` for the Slack webhook file alone, said as before."""
    if not webhook_file:
        raise UsageError("no webhook: pass --slack-webhook-file PATH (a file holding the Slack webhook URL)")
    (destination,) = read_destinations(None, webhook_file)
    outcome = deliver_now(poster_of(destination, link or ""), destination.url,
                          test_message(socket.gethostname(), link))
    if outcome.delivered:
        print(f"Slack accepted the test message (webhook in {webhook_file})")
        return 0
    print(f"Slack did not accept the test message: {outcome.why}; check the webhook URL in {webhook_file}")
    return 1
