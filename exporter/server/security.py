"""What the web configuration file asks of every request — TLS, basic auth, extra headers — kept
up to date with the file as the Prometheus exporters do: the file (and the certificate files it
names) are looked at again at most once a second, and a changed one is loaded again. A change that
does not load is logged and the previous configuration stays. Whether TLS is on at all is decided at
start (the listening socket is made for it)."""

from __future__ import annotations

import logging
import os
import ssl
import threading
import time
from collections.abc import Callable

from exporter.errors import LogOnce, UsageError
from exporter.server import tls, web_config
from exporter.server.auth import BasicAuth

log = logging.getLogger(__name__)

LOOK_SECONDS = 1.0


class Security:
    def __init__(self, path: str, clock: Callable[[], float] = time.monotonic) -> None:
        """Load the file at ``path`` (a :class:`UsageError` names every problem)."""
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._log_reload = LogOnce(log, logging.ERROR)
        self._failures_before = 0  # of the basic auth of the configurations replaced since
        self._use(*_loaded(path))
        self.tls_on = self.context is not None
        self._looked = clock()

    def _use(self, config: web_config.WebConfig, context: ssl.SSLContext | None) -> None:
        self._stamp = _stamp(self.path, config)
        self.settings = config.tls
        self.context = context
        self.auth = BasicAuth(config.users) if config.users else None
        self.headers = list(config.headers.items())

    @property
    def auth_failures(self) -> int:
        return self._failures_before + (self.auth.failures if self.auth else 0)

    def refresh(self) -> None:
        """Load the file again when it or a file it names changed (looked at once a second at most)."""
        now = self._clock()
        with self._lock:
            if now - self._looked < LOOK_SECONDS:
                return
            self._looked = now
            if _stamp(self.path, None, self._stamp) == self._stamp:
                return
            try:
                config, context = _loaded(self.path)
                if (context is not None) != self.tls_on:
                    raise UsageError(f"TLS is turned {'on' if context else 'off'}: that takes a restart")
            except UsageError as exc:
                self._log_reload(str(exc), "the web configuration changed but cannot be used; the previous one "
                                 "stays: %s", exc)
                self._stamp = _stamp(self.path, None, self._stamp)  # said once, until the file changes again
                return
            self._failures_before = self.auth_failures
            self._use(config, context)
            self._log_reload.clear()
            log.info("web configuration %s loaded again", self.path)


def _loaded(path: str) -> tuple[web_config.WebConfig, ssl.SSLContext | None]:
    config = web_config.load(path)
    return config, tls.context(config.tls) if config.tls else None


def _stamp(path: str, config: web_config.WebConfig | None,
           previous: tuple[tuple[str, float, int], ...] = ()) -> tuple[tuple[str, float, int], ...]:
    """Modification time and size of the file and the files it names (``config``, or the names of
    ``previous``)."""
    names = [path] + ([name for name, _, _ in previous[1:]] if config is None else [
        name for name in (config.tls.cert_file, config.tls.key_file, config.tls.client_ca_file) if name
    ] if config.tls else [])
    stamps = []
    for name in names:
        try:
            status = os.stat(name)
            stamps.append((name, status.st_mtime, status.st_size))
        except OSError:
            stamps.append((name, 0.0, -1))
    return tuple(stamps)
