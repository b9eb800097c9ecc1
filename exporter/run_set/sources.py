"""Which logs to follow: the ``log`` entries of the configuration (a path or a glob, each with an
optional run name and process match) and the run name a matched file gets.

A path is followed whether or not it exists (its run reads ``waiting`` while it does not); a glob's
runs come and go with the files it matches. A glob's run is named after what its wildcards matched:
each folder with a wildcard by its full name, a file name with one by its name without the last
suffix, joined with ``/`` (``runs/*/train.log`` -> ``lr3e-4``, ``logs/*.log`` -> ``seed1``). A path's
run is named after its file name without the suffix, or its ``run``. A name that is taken gets its
folder in front, then ``-2``, ``-3`` …: names never change while their runs are followed.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from exporter.run.text import as_text

_MAGIC = frozenset("*?[")
ENTRY_KEYS = ("path", "run", "trainer_cmdline_match")


@dataclass(frozen=True)
class LogSource:
    """One ``log`` entry: a path or a glob; ``run`` names a path's run; ``trainer_cmdline_match``:
    what its trainer's command line contains (default: the run's name when several runs are followed)."""

    pattern: str
    run: str | None = None
    trainer_cmdline_match: str | None = None

    @property
    def is_glob(self) -> bool:
        return has_magic(self.pattern)


def has_magic(text: str) -> bool:
    return any(char in _MAGIC for char in text)


def _entry_ok(entry: Any) -> bool:
    if isinstance(entry, str):
        return bool(entry)
    return (isinstance(entry, dict) and isinstance(entry.get("path"), str) and bool(entry["path"])
            and set(entry) <= set(ENTRY_KEYS)
            and all(isinstance(entry[key], str) and entry[key] for key in entry))


def accepts(value: Any) -> bool:
    """Whether ``value`` is a ``log`` value: a path or glob, or a list of them or of mappings with
    ``path`` and optionally ``run`` and ``trainer_cmdline_match``."""
    if isinstance(value, (str, dict)):
        return _entry_ok(value)
    return isinstance(value, (list, tuple)) and bool(value) and all(_entry_ok(e) for e in value)


def sources(value: Any) -> tuple[LogSource, ...]:
    """The :class:`LogSource` entries of an accepted ``log`` value (already sources: unchanged)."""
    entries = value if isinstance(value, (list, tuple)) else [value]
    return tuple(e if isinstance(e, LogSource) else LogSource(e) if isinstance(e, str)
                 else LogSource(e["path"], e.get("run"), e.get("trainer_cmdline_match")) for e in entries)


def problems(logs: tuple[LogSource, ...], run: str | None, trainer_pid: int | None) -> list[str]:
    """What does not fit together in the ``log`` entries and the ``run`` and ``trainer_pid`` keys."""
    found = []
    several = len(logs) > 1 or any(source.is_glob for source in logs)
    if several and run is not None:
        found.append("run: names the run of one log; with several logs or a glob, name each log's run "
                     "in the config file (log: [{path: ..., run: ...}])")
    if several and trainer_pid is not None:
        found.append("trainer_pid: is the trainer of one log; with several logs or a glob leave it out")
    found += [f"log: {s.pattern!r} is a glob: its runs are named from the paths it matches, leave out run"
              for s in logs if s.is_glob and s.run]
    names = [s.run for s in logs if s.run]
    found += [f"log: run {name!r} is named twice" for name in sorted(set(names)) if names.count(name) > 1]
    return found


def derived_name(source: LogSource, path: str) -> str:
    """The run name of ``path``, matched by ``source`` (see the module docstring), as text: a byte
    of a folder or file name that is not UTF-8 is written ``\xff``."""
    return as_text(_name(source, path))


def _name(source: LogSource, path: str) -> str:
    if source.run:
        return source.run
    file = PurePath(path)
    if not source.is_glob:
        return file.stem or "train"
    pattern_parts, path_parts = PurePath(source.pattern).parts, file.parts
    if len(pattern_parts) != len(path_parts):
        return file.stem or "train"
    last = len(path_parts) - 1
    named = [PurePath(part).stem if index == last else part
             for index, (wild, part) in enumerate(zip(pattern_parts, path_parts)) if has_magic(wild)]
    return "/".join(named) or "train"


def unique_name(name: str, path: str, taken: Collection[str]) -> str:
    """``name``, else with the log's folder in front, else with ``-2``, ``-3`` … after it."""
    folder = as_text(PurePath(path).parent.name)
    return next(candidate for candidate in _candidates(name, folder) if candidate not in taken)


def _candidates(name: str, folder: str) -> Iterable[str]:
    yield name
    if folder and folder != name and not name.startswith(folder + "/"):
        yield f"{folder}/{name}"
    number = 2
    while True:
        yield f"{name}-{number}"
        number += 1
