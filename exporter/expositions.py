"""Expositions of a registry shared by the requests that arrive while one is being generated."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from prometheus_client.registry import CollectorRegistry


@dataclass(slots=True)
class _Batch:
    """The requests that will share the next exposition of one variant."""
    done: threading.Event = field(default_factory=threading.Event)
    body: bytes = b""
    error: Exception | None = None


class SharedExpositions:
    """One exposition generated at a time. Requests for the same variant (format, gzip) that
    arrive meanwhile wait together for the next one, begun after they all arrived: an
    exposition is never older than its request, and a burst of scrapers costs a few, not one each."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry
        self._generating = threading.Lock()
        self._lock = threading.Lock()  # guards _open
        self._open: dict[tuple, _Batch] = {}  # per variant, the batch not begun yet

    def get(self, encoder: Callable[[CollectorRegistry], bytes], content_type: str, gzipped: bool) -> bytes:
        key = (content_type, gzipped)
        with self._lock:
            batch = self._open.get(key)
            leading = batch is None
            if leading:
                batch = self._open[key] = _Batch()
        if leading:
            with self._generating:
                with self._lock:
                    del self._open[key]  # who comes now waits for the next batch
                try:
                    body = encoder(self._registry)
                    batch.body = gzip.compress(body) if gzipped else body
                except Exception as exc:  # every request of the batch fails the same way
                    batch.error = exc
                finally:
                    batch.done.set()
        batch.done.wait()
        if batch.error is not None:
            raise batch.error
        return batch.body
