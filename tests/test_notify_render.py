"""The same message, rendered per service, in the body each service expects. Discord, Slack,
Telegram and Teams (workflows) are reached by apprise at their own fixed https hosts: there the
request apprise built is taken at the HTTP boundary (``exchange.observed(transport=…)``) instead
of leaving the machine, and its address and body checked. ntfy and the generic JSON webhook take
any host: a real HTTP sink on 127.0.0.1 receives them, and a real SMTP server (aiosmtpd) on
127.0.0.1 the e-mail."""

import email
import email.policy
import json
import socket
import time

import pytest
import requests

from exporter.alerts.alert import Active
from exporter.alerts.engine import FIRING, RESOLVED, Notification
from exporter.notify import apprise_post
from exporter.notify.render import message
from http_sink import HttpSink

LINK = "http://trainbox:9842/"
STALLED = Active("TrainingStalled", (), "Run gpt2_small has printed no progress for 3 min",
                 "Check first: is the trainer alive?", (("Iteration", "500 / 5000"), ("ETA", "65 min")))
THROTTLING = Active("GpuThermalThrottling", (("gpu", "0"),), "GPU 0 is slowing down for heat", "Check first: fans.")
NOW = time.time()
# apprise's colours of its notification types, which Discord's embed and Slack's bar take
RED, GREEN, YELLOW = 0xA32037, 0x3AA337, 0xCACF29


def _message(alert=STALLED, status=FIRING):
    return message(Notification(status, alert, "gpt2_small", NOW - 600, NOW), LINK, 3600)


class Captured:
    """In place of the network: note each request apprise makes and answer it."""

    def __init__(self, body: bytes = b"ok", status: int = 200) -> None:
        self.requests: list[requests.PreparedRequest] = []
        self._body, self._status = body, status

    def __call__(self, request):
        self.requests.append(request)
        response = requests.Response()
        response.status_code, response._content, response.url = self._status, self._body, request.url
        return response

    def json(self):
        (request,) = self.requests
        return request.url, json.loads(request.body)


def _post(url, service, msg, answer=None):
    captured = answer or Captured()
    outcome = apprise_post.post(url, service, msg, 5.0, LINK, transport=captured)
    return outcome, captured


def test_discord_gets_an_embed_in_the_states_colour():
    outcome, captured = _post("discord://123456/tokentoken", "discord", _message(), Captured(b"", 204))
    url, body = captured.json()
    assert outcome.delivered and url.startswith("https://discord.com/api/webhooks/123456/tokentoken")
    (embed,) = body["embeds"]
    assert embed["title"] == "CRITICAL: TrainingStalled · run gpt2_small" and embed["color"] == RED
    assert embed["description"].splitlines() == [
        "**Run gpt2\\_small has printed no progress for 3 min**", "Check first: is the trainer alive?",
        "• Iteration: 500 / 5000", "• ETA: 65 min", f"• Since: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(NOW - 600))}",
        f"[Open the run's page]({LINK})"]
    assert embed["author"]["name"] == "training-exporter"
    _, resolved = _post("discord://123456/tokentoken", "discord", _message(status=RESOLVED), Captured(b"", 204))
    assert resolved.json()[1]["embeds"][0]["color"] == GREEN
    _, warning = _post("discord://123456/tokentoken", "discord", _message(THROTTLING), Captured(b"", 204))
    assert warning.json()[1]["embeds"][0]["title"] == "WARNING: GpuThermalThrottling · GPU 0"
    assert warning.json()[1]["embeds"][0]["color"] == YELLOW


def test_slack_through_apprise_gets_a_coloured_attachment_in_mrkdwn():
    outcome, captured = _post("slack://T0AAA/B0BBB/c0ccccccccccccccccccccc", "slack", _message())
    url, body = captured.json()
    assert outcome.delivered and url == "https://hooks.slack.com/services/T0AAA/B0BBB/c0ccccccccccccccccccccc"
    (attachment,) = body["attachments"]
    assert attachment["title"] == "CRITICAL: TrainingStalled · run gpt2_small" and attachment["color"] == "#A32037"
    assert attachment["text"].splitlines()[0] == "*Run gpt2_small has printed no progress for 3 min*"
    assert attachment["text"].endswith(f"<{LINK}|Open the run's page>")


def test_telegram_gets_markdown_v2_with_the_run_name_escaped():
    outcome, captured = _post("tgram://123456789:AAbbccddeeffgghh/-1001234", "telegram", _message(),
                              Captured(b'{"ok": true}'))
    url, body = captured.json()
    assert outcome.delivered and url == "https://api.telegram.org/bot123456789:AAbbccddeeffgghh/sendMessage"
    assert body["parse_mode"] == "MarkdownV2" and body["chat_id"] == -1001234
    lines = body["text"].splitlines()
    assert lines[0] == "*CRITICAL: TrainingStalled · run gpt2\\_small*"
    assert lines[1] == "*Run gpt2\\_small has printed no progress for 3 min*"
    assert lines[-1] == f"[Open the run's page]({LINK})"


def test_teams_through_a_workflow_gets_an_adaptive_card():
    url = "workflows://prod-01.westeurope.logic.azure.com:443/abcdef0123/sigsigsig"
    outcome, captured = _post(url, "workflows", _message(), Captured(b"", 202))
    posted, body = captured.json()
    assert outcome.delivered and posted.startswith("https://prod-01.westeurope.logic.azure.com:443/workflows/abcdef0123/")
    card = body["attachments"][0]["content"]
    assert card["type"] == "AdaptiveCard"
    texts = [block["text"] for block in card["body"] if block["type"] == "TextBlock"]
    assert texts[0] == "CRITICAL: TrainingStalled · run gpt2_small"
    assert "Run gpt2_small has printed no progress for 3 min" in texts[1] and LINK in texts[1]


def test_a_refusal_and_a_429_are_told_apart_through_apprise():
    refused, _ = _post("discord://123456/tokentoken", "discord", _message(), Captured(b"{}", 404))
    assert not refused.delivered and refused.final and refused.why.startswith("HTTP 404")

    class RateLimited(Captured):
        def __call__(self, request):
            response = super().__call__(request)
            response.headers["Retry-After"] = "7"
            response.headers["X-RateLimit-Reset"] = str(int(time.time()) + 3600)  # apprise would sleep on this
            return response

    started = time.monotonic()
    limited, captured = _post("discord://123456/tokentoken", "discord", _message(), RateLimited(b"{}", 429))
    assert not limited.delivered and not limited.final and limited.retry_after == 7.0
    assert time.monotonic() - started < 2.0 and len(captured.requests) <= 2


@pytest.fixture
def sink():
    made = HttpSink()
    yield made
    made.close()


def test_a_generic_json_webhook_and_ntfy_get_plain_and_markdown_text(sink):
    assert apprise_post.post(sink.url("json"), "json", _message(), 5.0, LINK).delivered
    assert apprise_post.post(sink.url("ntfy", "/training"), "ntfy", _message(status=RESOLVED), 5.0, LINK).delivered
    plain, ntfy = (request.json() for request in sink.requests)
    assert plain["type"] == "failure" and plain["message"].splitlines()[0] == STALLED.summary
    assert ntfy["topic"] == "training" and ntfy["title"] == "RESOLVED: TrainingStalled · run gpt2_small"
    assert ntfy["message"].startswith("**Resolved: Run gpt2\\_small has printed no progress")


def test_e_mail_reaches_a_real_smtp_server_as_html_and_text():
    from aiosmtpd.controller import Controller

    class Inbox:
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
            self.messages.append((envelope.mail_from, envelope.rcpt_tos, envelope.content))
            return "250 OK"

    with socket.socket() as probe:  # a free port (aiosmtpd's start-up check needs it named)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        url = f"mailto://127.0.0.1:{port}?from=alerts@example.com&to=me@example.com"
        assert apprise_post.post(url, "email", _message(), 5.0, LINK).delivered
    finally:
        controller.stop()
    ((sender, recipients, content),) = inbox.messages
    mail = email.message_from_bytes(content, policy=email.policy.default)
    assert sender == "alerts@example.com" and recipients == ["me@example.com"]
    assert mail["Subject"] == "CRITICAL: TrainingStalled · run gpt2_small"
    html = mail.get_body(("html",)).get_content()
    assert "<strong>Run gpt2_small has printed no progress for 3 min</strong>" in html
    assert f'<a href="{LINK}">Open the run\'s page</a>' in html
