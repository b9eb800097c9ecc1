"""The logs to follow now: every path, and the files each glob matches at this moment."""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Sequence

from exporter.run_set.sources import LogSource


class LogDiscovery:
    def __init__(self, sources: Sequence[LogSource],
                 match: Callable[[str], list[str]] = glob.glob) -> None:
        """``match``: the glob function (a pattern to the paths it matches)."""
        self._sources = tuple(sources)
        self._match = match

    @property
    def has_globs(self) -> bool:
        return any(source.is_glob for source in self._sources)

    def scan(self) -> dict[str, LogSource]:
        """Each log to follow now with the entry that named it (the first one, for a file named by
        several): every path, present or not, and the regular files each glob matches, in order."""
        found: dict[str, LogSource] = {}
        for source in self._sources:
            paths = sorted(p for p in self._match(source.pattern) if os.path.isfile(p)) if source.is_glob \
                else [source.pattern]
            for path in paths:
                found.setdefault(os.path.normpath(path), source)
        return found
