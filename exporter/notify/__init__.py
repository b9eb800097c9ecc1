"""Sending alerts to people: each notification becomes one message (``render.py``), rendered per
service by apprise (``apprise_post.py``) or posted to the Slack webhook file (``slack.py``), on one
thread per destination (``outbox.py``, ``sender.py``) with one deadline per post
(``deadline.py``) and the answers apprise does not report (``exchange.py``). What fires and when
is decided in :mod:`exporter.alerts`; this package only delivers. Apprise's and urllib3's own log
lines can hold a destination's address, so they are kept out of the exporter's log."""

import logging

for _name in ("apprise", "urllib3"):
    logging.getLogger(_name).addHandler(logging.NullHandler())
    logging.getLogger(_name).propagate = False

from exporter.notify.start import open_notifier, page_url  # noqa: E402
from exporter.notify.trial import notify_test, slack_test  # noqa: E402

__all__ = ["notify_test", "open_notifier", "page_url", "slack_test"]
