"""Log formats: each module holds one trainer's pure line parser; this module names them all and
picks one."""

from __future__ import annotations

import re
import sys
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

from exporter.errors import UsageError
from exporter.events import Event, Progress
from exporter.formats import custom, errors, hf, jsonl, lightning, llmc, modded, nanochat, nanogpt

LineParser = Callable[[str], Event | None]

# Formats tried by auto-detection, in order; the first to read a progress line wins. Most specific
# first: llm.c's train_gpt2.py step line is also early modded-nanogpt's, and is reported as llm.c;
# JSON lines are detected only with the default field names (other names need ``format: jsonl``).
DETECTABLE: dict[str, LineParser] = {
    nanogpt.NAME: nanogpt.parse,
    llmc.NAME: llmc.parse,
    modded.NAME: modded.parse,
    nanochat.NAME: nanochat.parse,
    lightning.NAME: lightning.parse,
    hf.NAME: hf.parse,
    jsonl.NAME: jsonl.parse,
}


class ProgressLine(NamedTuple):
    """A format's usual progress line, which the run model applies without building an event for
    each: ``pattern`` is the first one the format's parser tries, ``fields`` turns its groups into
    the fields of the :class:`Progress` the parser returns (in field order), or None where the
    parser returns no progress for the line, and ``other`` parses a line ``pattern`` does not match
    as the parser does (without trying ``pattern`` again). ``columns``, where a format's progress
    line carries no maximum, throughput or cumulative clock, turns the groups of many lines into
    the columns of their iterations, losses, step seconds and MFU ratios (None where the lines print
    none) as ``fields`` would, or None when it cannot."""

    pattern: re.Pattern[str]
    fields: Callable[..., tuple | None]
    other: LineParser
    columns: Callable[[list[tuple]], tuple | None] | None = None


# The progress lines of the formats that have one, by their parser.
PROGRESS_LINES: dict[LineParser, ProgressLine] = {
    nanogpt.parse: ProgressLine(nanogpt.PROGRESS, nanogpt.progress_fields, nanogpt.parse_other,
                                nanogpt.progress_columns),
    llmc.parse: ProgressLine(llmc.PROGRESS, llmc.progress_fields, llmc.parse),
}

# Trainer settings a format's trainer uses when its log does not print them.
TRAINER_DEFAULTS: dict[str, Mapping[str, Any]] = {nanogpt.NAME: nanogpt.DEFAULTS}

AUTO = "auto"
# Every format name a user may give: the one list the configuration and the command line check against.
FORMAT_NAMES: tuple[str, ...] = (AUTO, *DETECTABLE, custom.NAME)

# Lines held back while detecting, at most: this many, and this many bytes of memory in all. The
# oldest are dropped (and counted) to make room.
_DETECTION_BACKLOG = 20_000
_DETECTION_BACKLOG_BYTES = 8 << 20


def parser_for(name: str, *, custom_format_file: str | None = None,
               jsonl_fields: Mapping[str, str] | None = None) -> LineParser:
    """The line parser of format ``name``; ``custom`` reads its patterns from ``custom_format_file``,
    ``jsonl`` takes its key names from ``jsonl_fields``."""
    if name == jsonl.NAME:
        return jsonl.parser(jsonl_fields)
    if name == custom.NAME:
        if not custom_format_file:
            raise UsageError("format 'custom' needs custom_format_file: the YAML file of its patterns")
        return custom.load(custom_format_file)
    if name in DETECTABLE:
        return DETECTABLE[name]
    known = ", ".join(format_name for format_name in FORMAT_NAMES if format_name != AUTO)
    raise UsageError(f"unknown log format {name!r}; known: {known}")


def with_errors(parse: LineParser) -> LineParser:
    """Add the crash markers every trainer shares to a format's parser."""

    def parse_with_errors(line: str) -> Event | None:
        return parse(line) or errors.parse(line)

    return parse_with_errors


class FormatReader:
    """Turns lines into events with a forced format, or detects the format from the first
    progress line and then replays the lines held back while detecting."""

    def __init__(self, forced: LineParser | None = None, forced_name: str | None = None,
                 candidates: dict[str, LineParser] | None = None) -> None:
        self.name: str | None = forced_name
        # the detected (or forced) format's parser, without and with the crash markers; None while
        # still detecting
        self.format_parse: LineParser | None = forced
        self.parse: LineParser | None = with_errors(forced) if forced else None
        self._candidates = candidates if candidates is not None else DETECTABLE
        self._held: deque[str] = deque()
        self._held_bytes = 0
        # lines dropped from the detection backlog to keep it within its bounds: never parsed
        self.dropped = 0
        # whether a candidate format read a line held while detecting as an event other than
        # progress: the log is a trainer's that has not reached its first step yet
        self.preamble_seen = False

    @classmethod
    def open(cls, name: str, custom_format_file: str | None = None,
             jsonl_fields: Mapping[str, str] | None = None) -> FormatReader:
        """A reader of format ``name`` (``auto``: detected from the log); :class:`UsageError` for
        an unknown name or an unusable custom format file or JSON field names."""
        if name == AUTO:
            return cls()
        return cls(parser_for(name, custom_format_file=custom_format_file, jsonl_fields=jsonl_fields), name)

    @property
    def held(self) -> int:
        """Lines held back now while the format is still being detected."""
        return len(self._held)

    @property
    def held_bytes(self) -> int:
        """Memory taken by the lines held back now, in bytes."""
        return self._held_bytes

    @property
    def tried(self) -> tuple[str, ...]:
        """The names of the formats lines are read with: every candidate while detecting, then the
        detected (or forced) one."""
        if self.parse is None:
            return tuple(self._candidates)
        return (self.name,) if self.name else ()

    @property
    def progress_line(self) -> ProgressLine | None:
        """The detected (or forced) format's usual progress line, where it has one."""
        return PROGRESS_LINES.get(self.format_parse) if self.format_parse else None

    @property
    def defaults(self) -> Mapping[str, Any]:
        """The trainer's default settings (empty until its format is known, or where it has none)."""
        return TRAINER_DEFAULTS.get(self.name or "", {})

    def feed(self, line: str) -> Iterator[Event | None]:
        """Events for ``line`` (and for held-back lines once the format is known); None marks a
        line that was not understood."""
        if self.parse is not None:
            yield self.parse(line)
            return
        if crash := errors.parse(line):
            yield crash
            return
        for name, parse in self._candidates.items():
            event = parse(line)
            if isinstance(event, Progress):
                self.name, self.format_parse, self.parse = name, parse, with_errors(parse)
                held, self._held, self._held_bytes = self._held, deque(), 0
                for old in held:
                    yield self.parse(old)
                yield self.parse(line)
                return
            self.preamble_seen = self.preamble_seen or event is not None
        self._hold(line)

    def _hold(self, line: str) -> None:
        size = sys.getsizeof(line)
        self._held.append(line)
        self._held_bytes += size
        while len(self._held) > _DETECTION_BACKLOG or self._held_bytes > _DETECTION_BACKLOG_BYTES:
            self._held_bytes -= sys.getsizeof(self._held.popleft())
            self.dropped += 1
