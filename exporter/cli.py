"""Command line: ``serve`` (follow a log, serve /metrics), ``status`` (one report), ``plan``."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from typing import Any

from exporter import __version__
from exporter.config import Config, ConfigError, load
from exporter.formats.custom import CustomFormatError
from exporter.formats.jsonl import FieldsError
from exporter.trainer_config import ConfigFileError, parse_override

# Config keys that only matter while serving.
_SERVE_ONLY = {
    "listen_address", "port", "poll_interval_seconds", "gpus", "trainer_pid", "trainer_cmdline_match",
    "gpu_sample_interval_seconds", "other_watts", "psu_efficiency", "carbon_g_per_kwh",
}
_NOT_FLAGS = {"overrides", "jsonl_fields", "log"}


def _add_config_flags(parser: argparse.ArgumentParser, serving: bool) -> None:
    """One ``--kebab-case`` flag per Config field; values are validated with the YAML file's."""
    parser.add_argument("--config", metavar="FILE", help="YAML configuration file (flags win over it)")
    for field in dataclasses.fields(Config):
        if field.name in _NOT_FLAGS or (not serving and field.name in _SERVE_ONLY):
            continue
        flag = "--" + field.name.replace("_", "-")
        kind = str(field.type)
        if kind.startswith("int"):
            parser.add_argument(flag, dest=field.name, type=int, metavar="N")
        elif kind.startswith("float"):
            parser.add_argument(flag, dest=field.name, type=float, metavar="X")
        elif kind.startswith("list"):
            parser.add_argument(flag, dest=field.name, metavar="LIST",
                                type=lambda text: [part.strip() for part in text.split(",") if part.strip()],
                                help="comma-separated GPU indices or UUIDs")
        else:
            parser.add_argument(flag, dest=field.name, metavar="VALUE")
    parser.add_argument("--override", action="append", default=[], metavar="KEY=VALUE",
                        help="trainer setting that wins over the log (e.g. max_iters=5000); repeatable")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="training-exporter", description=__doc__)
    parser.add_argument("--version", action="version", version=f"training-exporter {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="follow a training log and serve Prometheus metrics")
    serve.add_argument("--log", dest="log", metavar="PATH", help="the trainer's log file (may not exist yet)")
    _add_config_flags(serve, serving=True)
    serve.add_argument("-v", "--verbose", action="store_true", help="debug logging")

    status = commands.add_parser("status", help="read a training log once and print a progress report")
    status.add_argument("log", metavar="LOG", help="the trainer's log file")
    _add_config_flags(status, serving=False)
    status.add_argument("--json", action="store_true", help="print JSON instead of text")

    plan = commands.add_parser("plan", help="estimate a nanoGPT run before it starts")
    from exporter import plan_report

    plan_report.add_arguments(plan)
    return parser


def resolve_config(args: argparse.Namespace) -> Config:
    """YAML file < command-line flags; every problem reported at once."""
    flags: dict[str, Any] = {
        field.name: getattr(args, field.name)
        for field in dataclasses.fields(Config)
        if getattr(args, field.name, None) is not None
    }
    overrides: dict[str, Any] = {}
    problems = []
    for text in args.override:
        try:
            key, value = parse_override(text)
            overrides[key] = value
        except ValueError as exc:
            problems.append(f"--override: {exc}")
    if problems:
        raise ConfigError("command line", problems)
    if overrides:
        flags["overrides"] = overrides
    return load(args.config, flags)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = logging.INFO if args.command == "serve" else logging.WARNING
    logging.basicConfig(
        level=logging.DEBUG if getattr(args, "verbose", False) else level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command == "plan":
        from exporter import plan_report

        return plan_report.run(args)
    try:
        config = resolve_config(args)
    except ConfigError as exc:
        print(f"training-exporter: {exc}", file=sys.stderr)
        return 2
    try:
        if args.command == "status":
            from exporter import report

            return report.run(config, as_json=args.json)
        from exporter import serve

        return serve.run(config)
    except (ConfigFileError, CustomFormatError, FieldsError) as exc:
        print(f"training-exporter: {exc}", file=sys.stderr)
        return 2
