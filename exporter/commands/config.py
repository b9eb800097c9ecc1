"""The exporter's configuration: one frozen dataclass whose fields carry their own help, flag and
checks; loaded from YAML and command-line text and validated as a whole."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from exporter.commands import overrides as trainer_overrides
from exporter.notify.destinations import notify_file_problem
from exporter.notify.webhook import webhook_problem
from exporter.errors import UsageError
from exporter.formats import FORMAT_NAMES
from exporter.run_set import sources as log_sources
from exporter.server.addresses import listen_problem
from exporter.log.watch import POLL_INTERVAL_SECONDS
from exporter.yaml_file import read_yaml


class ConfigError(UsageError):
    """Every problem found in a configuration, reported together."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid configuration in {source}:\n{lines}")


def _as(convert: Callable[[str], Any]) -> Callable[[str], Any]:
    """``convert`` for flag text, leaving text it cannot read as it is, for the check to report."""

    def from_text(text: str) -> Any:
        try:
            return convert(text)
        except ValueError:
            return text

    return from_text


@dataclass(frozen=True)
class Kind:
    """One kind of key: what it accepts, how a flag's text becomes a value (text it cannot read
    stays text, for :func:`validate` to report with the rest), its usual metavar."""

    expected: str
    accepts: Callable[[Any], bool]
    from_text: Callable[[str], Any] = str
    metavar: str = "TEXT"
    canonical: Callable[[Any], Any] = lambda value: value
    repeatable: bool = False  # its flag may be given several times, each adding one value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


INTEGER = Kind("an integer", _is_integer, _as(int), "N")
# A count a user may write as 20000, 20k or 2e4 on the command line.
COUNT = Kind("a whole number", _is_integer, _as(trainer_overrides.whole_number), "N")
NUMBER = Kind("a number", _is_number, _as(float), "X")
# A number that may be left empty on the command line (None: off), for a compose file's ${VAR:-}.
OPTIONAL_NUMBER = Kind("a number", _is_number, _as(lambda text: float(text) if text.strip() else None), "X")
TEXT = Kind("a string", lambda v: isinstance(v, str))
MAPPING = Kind("a mapping", lambda v: isinstance(v, dict))
# Trainer settings by name; each is checked by exporter.commands.overrides (names, whole counts, 20k).
TRAINER_SETTINGS = Kind("a mapping of trainer settings", lambda v: isinstance(v, dict),
                        canonical=trainer_overrides.normalized)
GPU_LIST = Kind(
    "a list of GPU indices or UUIDs",
    lambda v: isinstance(v, list) and all(isinstance(g, (str, int)) for g in v),
    lambda text: [part.strip() for part in text.split(",") if part.strip()],
    "LIST",
    lambda gpus: [str(g) for g in gpus],
)
# A path or glob, or a list of paths, globs and {path, run, trainer_cmdline_match} mappings.
# One path stays a plain string; read them through Config.logs.
LOGS = Kind("a path or glob, or a list of them or of {path, run, trainer_cmdline_match} mappings",
            log_sources.accepts, metavar="PATH", repeatable=True,
            canonical=lambda v: v[0] if isinstance(v, list) and len(v) == 1 and isinstance(v[0], str) else v)

# The commands whose flags a key becomes.
EVERYWHERE = ("serve", "status")
SERVE = ("serve",)
SLACK = ("serve", "slack-test", "notify-test")
NOTIFY = ("serve", "notify-test")


def _key(default: Any, kind: Kind, help: str, *, commands: tuple[str, ...] = EVERYWHERE,
         metavar: str | None = None, limits: tuple[float, float] | None = None,
         choices: tuple[str, ...] | None = None, default_text: str | None = None) -> Any:
    """A Config field with its metadata: the flag's help, metavar and commands; the key's kind,
    inclusive limits and choices; how its default reads in help (``default_text``)."""
    metadata = {"kind": kind, "help": help, "commands": commands, "metavar": metavar or kind.metavar,
                "limits": limits, "choices": choices, "default_text": default_text}
    if isinstance(default, dict):
        return field(default_factory=dict, metadata=metadata)
    return field(default=default, metadata=metadata)


_DAY = 86400


@dataclass(frozen=True)
class Config:
    # what to follow
    log: str | list[str | dict[str, str]] | None = _key(
        None, LOGS, "a trainer's log file (may not exist yet) or a glob of them ('runs/*/train.log', quoted); "
        "repeatable, each log is its own run", commands=SERVE, metavar="PATH")
    run: str | None = _key(None, TEXT, "the run label; without --log: the run whose GPUs this node reports",
                           metavar="NAME", default_text="the log file's name")
    node: str | None = _key(None, TEXT, "the node label of the GPU and energy series", commands=SERVE,
                            metavar="NAME", default_text="the host name")
    missing_log_grace_seconds: float = _key(300.0, NUMBER, "a glob's run whose log is gone is dropped after "
                                            "this, in seconds", commands=SERVE, limits=(0, 30 * _DAY))
    format: str = _key("auto", TEXT, "log format", choices=FORMAT_NAMES)
    custom_format_file: str | None = _key(None, TEXT, "YAML file of patterns for --format custom", metavar="PATH")
    jsonl_fields: dict[str, str] = _key({}, MAPPING, "JSON keys of the event fields for format jsonl", commands=())
    trainer_config: str | None = _key(None, TEXT, "nanoGPT config file, read with ast (below what the log says)",
                                      metavar="PATH")
    overrides: dict[str, Any] = _key({}, TRAINER_SETTINGS, "trainer settings that win over the log", commands=())
    max_iters: int | None = _key(None, COUNT, "last iteration of the run (e.g. 20000 or 20k)",
                                 limits=(1, 10**12), default_text="from the log")
    # serving
    listen_address: str = _key("127.0.0.1", TEXT, "where /metrics and the live page are served", commands=SERVE, metavar="ADDRESS")
    port: int = _key(9842, INTEGER, "port of /metrics", commands=SERVE, metavar="PORT", limits=(1, 65535))
    poll_interval_seconds: float = _key(POLL_INTERVAL_SECONDS, NUMBER, "how often the log is read, in seconds", commands=SERVE,
                                        limits=(0.01, 60))
    web_config_file: str | None = _key(None, TEXT, "the Prometheus exporters' web configuration file (TLS, "
                                       "basic auth, headers), as node_exporter's --web.config.file",
                                       commands=SERVE, metavar="PATH", default_text="none: plain HTTP, no auth")
    # stall detection
    min_progress_timeout_seconds: float = _key(120.0, NUMBER, "the stall timeout never goes below this, in seconds",
                                               limits=(1, 7 * _DAY))
    startup_timeout_seconds: float = _key(900.0, NUMBER, "stall timeout before the first progress line, in seconds",
                                          limits=(1, 7 * _DAY))
    # GPUs
    gpus: list[str] | None = _key(None, GPU_LIST, "comma-separated GPU indices or UUIDs to watch", commands=SERVE,
                                  default_text="all")
    trainer_pid: int | None = _key(None, INTEGER, "the trainer's PID: its GPU memory, and its end ends the run "
                                   "(finished, or crashed short of max_iters)", commands=SERVE,
                                   metavar="PID", limits=(1, 2**31))
    trainer_cmdline_match: str = _key("train", TEXT, "without --trainer-pid: processes whose command line "
                                      "contains this", commands=SERVE)
    gpu_sample_interval_seconds: float = _key(1.0, NUMBER, "NVML sampling and energy accounting interval, "
                                              "in seconds", commands=SERVE, limits=(0.05, 60))
    # energy and money
    other_watts: float = _key(0.0, NUMBER, "power of the rest of the machine: CPU, RAM, fans", commands=SERVE,
                              metavar="W", limits=(0, 100_000))
    psu_efficiency: float = _key(1.0, NUMBER, "power supply efficiency", commands=SERVE, limits=(0.05, 1.0))
    price_per_kwh: float = _key(0.15, NUMBER, "electricity price per kWh", limits=(0, 1_000))
    currency: str = _key("USD", TEXT, "currency of the price", metavar="CODE")
    carbon_g_per_kwh: float | None = _key(None, NUMBER, "grid carbon intensity, g CO2 per kWh", commands=SERVE,
                                          limits=(0, 10_000))
    state_file: str | None = _key(None, TEXT, "where energy so far survives restarts", metavar="PATH")
    budget: float | None = _key(None, OPTIONAL_NUMBER, "the most the run's electricity may cost, in currency: "
                                "TrainingOverBudget when the projected cost at the finish or the cost so far "
                                "is above it", commands=SERVE, metavar="AMOUNT", limits=(0, 10**9))
    checkpoint_dir: str | None = _key(None, TEXT, "the directory the trainer saves checkpoints to (its free "
                                      "space is watched)", commands=SERVE, metavar="PATH",
                                      default_text="the trainer's out_dir from its config or log")
    # alerts sent by the exporter itself (without Prometheus and Alertmanager)
    slack_webhook_file: str | None = _key(None, TEXT, "file holding the Slack incoming-webhook URL: the exporter "
                                          "sends the alerts to Slack itself (off: no Slack)", commands=SLACK,
                                          metavar="PATH")
    notify_file: str | None = _key(None, TEXT, "file of apprise URLs, one destination per line (discord://, tgram://, "
                                   "ntfys://, mailtos://, workflows://, json://, slack://; chmod 600): the exporter "
                                   "sends the alerts there itself (off: none)", commands=NOTIFY, metavar="PATH")
    slack_repeat_interval_seconds: float = _key(4 * 3600.0, NUMBER, "how often a critical or warning alert is "
                                                "sent again while it lasts, in seconds (0: never)",
                                                commands=SERVE, limits=(0, 30 * _DAY))
    slack_link: str | None = _key(None, TEXT, "the link in each message (a dashboard or page URL)",
                                  commands=SLACK, metavar="URL", default_text="this exporter's http://ADDRESS:PORT/")
    alert_for_cap_seconds: float | None = _key(None, NUMBER, "cap every alert's for: delay at this many seconds, "
                                               "to try the alerts quickly", commands=SERVE, limits=(0, 3600),
                                               default_text="the rules' delays")

    def replace(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)

    @property
    def logs(self) -> tuple[log_sources.LogSource, ...]:
        """The ``log`` entries (none without ``log``)."""
        return log_sources.sources(self.log) if self.log else ()

    @property
    def single_log(self) -> str | None:
        """The path of the one log followed, when ``log`` is one path (not a glob), else None."""
        logs = self.logs
        return logs[0].pattern if len(logs) == 1 and not logs[0].is_glob else None


_FIELDS = {f.name: f for f in dataclasses.fields(Config)}

# Allowed values of the numeric keys, inclusive.
RANGES: dict[str, tuple[float, float]] = {
    name: f.metadata["limits"] for name, f in _FIELDS.items() if f.metadata["limits"]
}


def _problem(name: str, value: Any) -> str | None:
    """What is wrong with ``value`` for key ``name`` on its own, if anything."""
    meta = _FIELDS[name].metadata
    if value is None:
        return None if _FIELDS[name].default is None else f"{name}: must be set (got null)"
    if not meta["kind"].accepts(value):
        return f"{name}: expected {meta['kind'].expected}, got {value!r}"
    low_high = meta["limits"]
    if low_high and not low_high[0] <= value <= low_high[1]:
        return f"{name}: {value!r} is outside {low_high[0]}..{low_high[1]}"
    if meta["choices"] and value not in meta["choices"]:
        return f"{name}: {value!r} is not one of {', '.join(meta['choices'])}"
    return None


def validate(values: Mapping[str, Any], source: str, earlier: Sequence[str] = ()) -> Config:
    """Build a :class:`Config` from ``values`` or raise :class:`ConfigError` listing every problem,
    after the ``earlier`` ones (the file's or the command line's own)."""
    problems = list(earlier) + [
        f"{key}: {trainer_overrides.unknown_name(str(key), _FIELDS, 'key')}" for key in values if key not in _FIELDS
    ]
    known = {k: v for k, v in values.items() if k in _FIELDS}
    problems += [problem for name, value in known.items() if (problem := _problem(name, value))]
    if isinstance(known.get("overrides"), dict):
        problems += [f"overrides.{problem}" for problem in trainer_overrides.problems(known["overrides"])]
    if known.get("format") == "custom" and not known.get("custom_format_file"):
        problems.append("custom_format_file: required when format is 'custom'")
    if isinstance(known.get("currency"), str) and not known["currency"].strip():
        problems.append("currency: must not be empty")
    if isinstance(known.get("slack_webhook_file"), str) and (problem := webhook_problem(known["slack_webhook_file"])):
        problems.append(f"slack_webhook_file: {problem}")
    if isinstance(known.get("notify_file"), str) and (problem := notify_file_problem(known["notify_file"])):
        problems.append(f"notify_file: {problem}")
    if isinstance(known.get("listen_address"), str) and (problem := listen_problem(known["listen_address"])):
        problems.append(f"listen_address: {problem}")
    if isinstance(known.get("node"), str) and not known["node"].strip():
        problems.append("node: must not be empty")
    if known.get("log") is not None and log_sources.accepts(known["log"]):
        problems += log_sources.problems(log_sources.sources(known["log"]), known.get("run"), known.get("trainer_pid"))
    if problems:
        raise ConfigError(source, problems)
    return Config(**{
        name: value if value is None else _FIELDS[name].metadata["kind"].canonical(value)
        for name, value in known.items()
    })


def _read_file(path: str) -> tuple[dict[str, Any], list[str]]:
    """The file's keys and values, or the one problem that keeps it from being read."""
    try:
        loaded = read_yaml(path)
    except ValueError as exc:
        return {}, [str(exc)]
    if loaded is None:
        return {}, []
    if not isinstance(loaded, dict):
        return {}, ["the top level must be a mapping of key: value"]
    return loaded, []


def load(path: str | None, flags: Mapping[str, Any] | None = None, flag_problems: Sequence[str] = ()) -> Config:
    """Read the YAML file at ``path`` (if any), apply the command line's ``flags`` over it (each
    read by its key's :attr:`Kind.from_text`; ``None``: not given) and validate all, reporting
    ``flag_problems`` (flags that could not be read at all) with the rest. ``overrides`` from flags
    add to the file's."""
    values, problems = _read_file(path) if path else ({}, [])
    given = {key: value for key, value in (flags or {}).items() if value is not None}
    for key, value in given.items():
        if key == "overrides" and isinstance(values.get(key), dict):
            value = {**values[key], **value}
        values[key] = value
    return validate(values, _source(path, bool(given or flag_problems)), [*problems, *flag_problems])


def _source(path: str | None, flags: bool) -> str:
    """Where the values came from, for the error's first line."""
    if path and flags:
        return f"{path} and the command line"
    return path or "the command line"
