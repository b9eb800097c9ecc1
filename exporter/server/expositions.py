"""Expositions of a registry shared by the requests that arrive while one is being generated, each
family's text encoded once while a collector yields that same family object again; a
:class:`MergedFamily` (one name, a part per run) is encoded part by part, each part once while it
comes again, so the runs that did not change cost no encoding. A family (or part) that cannot be
encoded is left out, logged and counted: it never costs the others their exposition."""

from __future__ import annotations

import gzip
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import CollectorRegistry

from exporter.errors import LogOnce

log = logging.getLogger(__name__)

Encoder = Callable[[CollectorRegistry], bytes]


class MergedFamily(Metric):
    """The families of one name (one per run) as one family: their samples in order. An encoder
    that knows nothing of parts sees the samples; :class:`SharedExpositions` encodes the parts."""

    def __init__(self, parts: list[Metric]) -> None:  # noqa: D107 - the parts' name is already checked
        first = parts[0]
        self.name, self.documentation, self.type, self.unit = first.name, first.documentation, first.type, first.unit
        self.parts = parts

    @property  # type: ignore[override]
    def samples(self) -> list:
        return [sample for part in self.parts for sample in part.samples]


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

    def __init__(self, registry: CollectorRegistry, on_skipped: Callable[[], None] = lambda: None) -> None:
        """``on_skipped``: told of each family left out because it could not be encoded."""
        self._registry = registry
        self._on_skipped = on_skipped
        self._log_skipped = LogOnce(log, logging.ERROR)
        self._generating = threading.Lock()
        self._lock = threading.Lock()  # guards _open
        self._open: dict[tuple, _Batch] = {}  # per variant, the batch not begun yet
        # per content type, the text of each family of the last exposition and the samples' text of
        # each part of a merged one, by the family's id
        self._texts: dict[str, tuple[dict[int, tuple[Metric, bytes]], dict[int, tuple[Metric, bytes]]]] = {}

    def get(self, encoder: Encoder, content_type: str, gzipped: bool) -> bytes:
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
                    body = self._encode(encoder, content_type)
                    batch.body = gzip.compress(body) if gzipped else body
                except Exception as exc:  # every request of the batch fails the same way
                    batch.error = exc
                finally:
                    batch.done.set()
        batch.done.wait()
        if batch.error is not None:
            raise batch.error
        return batch.body

    def _encode(self, encoder: Encoder, content_type: str) -> bytes:
        """``encoder``'s exposition of the registry, as the concatenation of each family's own
        (both text formats are that, plus a fixed end): a family object yielded again since the
        last exposition (a collector's families built once for several scrapes) is not encoded
        again. Runs under ``_generating``."""
        texts = _Texts(encoder, self._texts.get(content_type, ({}, {})), self._skipped)
        parts = [text for family in self._registry.collect() if (text := texts.text_of(family)) is not None]
        self._texts[content_type] = texts.made, texts.made_bodies
        parts.append(texts.end)
        return b"".join(parts)

    def _skipped(self, family: Metric, exc: Exception) -> None:
        self._on_skipped()
        self._log_skipped(family.name, "the metric family %s is left out of the exposition: it cannot be encoded "
                          "(%s: %s)", family.name, type(exc).__name__, exc)


class _Texts:
    """The texts of one exposition's families, each taken from the last exposition (``known``, by
    the family's id) where the same family object was in it, else encoded."""

    def __init__(self, encoder: Encoder,
                 known: tuple[dict[int, tuple[Metric, bytes]], dict[int, tuple[Metric, bytes]]],
                 skipped: Callable[[Metric, Exception], None]) -> None:
        self._encoder = encoder
        self._known, self._known_bodies = known
        self._skipped = skipped
        self.end = encoder(_Families(()))  # b"" or OpenMetrics' "# EOF"
        self.made: dict[int, tuple[Metric, bytes]] = {}  # holding a family keeps its id from being reused
        self.made_bodies: dict[int, tuple[Metric, bytes]] = {}  # a merged family's parts: samples only

    def text_of(self, family: Metric) -> bytes | None:
        """The family's text without the end; None if it cannot be encoded."""
        seen = self._known.get(id(family))
        if seen is not None and seen[0] is family:
            text = seen[1]
            if isinstance(family, MergedFamily):  # its parts' texts are kept for the next merge
                known = self._known_bodies
                self.made_bodies.update((id(part), known[id(part)]) for part in family.parts if id(part) in known)
        elif isinstance(family, MergedFamily):
            text = self._merged(family)
        else:
            text = self._encoded(family)
        if text is not None:
            self.made[id(family)] = family, text
        return text

    def _encoded(self, family: Metric) -> bytes | None:
        try:
            text = self._encoder(_Families((family,)))
        except Exception as exc:  # noqa: BLE001 - one family's text never costs the others theirs
            self._skipped(family, exc)
            return None
        return text[:len(text) - len(self.end)]

    def _merged(self, family: MergedFamily) -> bytes | None:
        """A merged family's text: its header (its text without samples), then each part's
        samples (the part's text after that same header)."""
        header = self._encoded(Metric(family.name, family.documentation, family.type, family.unit))
        if header is None:
            return None
        bodies = []
        for part in family.parts:
            seen = self._known_bodies.get(id(part))
            if seen is not None and seen[0] is part:
                body = seen[1]
            elif (text := self._encoded(part)) is None:
                continue
            elif text.startswith(header):
                body = text[len(header):]
            else:  # a part with a help text of its own: the family encoded as a whole
                return self._encoded(family)
            self.made_bodies[id(part)] = part, body
            bodies.append(body)
        return header + b"".join(bodies)


class _Families:
    """Families as a registry to an encoder."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families
