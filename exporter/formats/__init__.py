"""Log formats: each module holds one trainer's pure line parser; this module picks one."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator

from exporter.config import Config
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

_DETECTION_BACKLOG = 20_000


def parser_for(name: str, config: Config) -> LineParser:
    """The line parser of format ``name`` (configured from ``config`` where it needs it)."""
    if name == jsonl.NAME:
        return jsonl.parser(config.jsonl_fields)
    if name == custom.NAME:
        if not config.custom_format_file:
            raise ValueError("format 'custom' needs custom_format_file: the YAML file of its patterns")
        return custom.load(config.custom_format_file)
    if name in DETECTABLE:
        return DETECTABLE[name]
    known = [*DETECTABLE, custom.NAME]
    raise ValueError(f"unknown log format {name!r}; known: {', '.join(known)}")


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
    def for_config(cls, config: Config) -> FormatReader:
        if config.format == "auto":
            return cls()
        return cls(parser_for(config.format, config), config.format)

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
