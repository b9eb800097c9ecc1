"""Log formats: each module holds one trainer's pure line parser; this module names them all and
picks one."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import Any

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

# Trainer settings a format's trainer uses when its log does not print them.
TRAINER_DEFAULTS: dict[str, Mapping[str, Any]] = {nanogpt.NAME: nanogpt.DEFAULTS}

AUTO = "auto"
# Every format name a user may give: the one list the configuration and the command line check against.
FORMAT_NAMES: tuple[str, ...] = (AUTO, *DETECTABLE, custom.NAME)

_DETECTION_BACKLOG = 20_000


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
        # the detected (or forced) format's parser; None while still detecting
        self.parse: LineParser | None = with_errors(forced) if forced else None
        self._candidates = candidates if candidates is not None else DETECTABLE
        self._held: deque[str] = deque(maxlen=_DETECTION_BACKLOG)

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
        """Lines held back while the format is still being detected."""
        return len(self._held)

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
            if isinstance(parse(line), Progress):
                self.name, self.parse = name, with_errors(parse)
                held, self._held = list(self._held), deque()
                for old in held:
                    yield self.parse(old)
                yield self.parse(line)
                return
        self._held.append(line)
        yield from ()
