"""Command line: ``serve`` (follow a log, serve /metrics), ``run`` (start the trainer and serve its
metrics), ``status`` (one report), ``plan``, ``slack-test`` (one message to the Slack webhook),
``notify-test`` (one message to each destination)."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

from exporter import __version__
from exporter.commands import overrides
from exporter.commands.config import Config, load
from exporter.errors import UsageError
from exporter.run_set.sources import LogSource


DESCRIPTION = ("Watch an LLM training run: follow its log and serve Prometheus metrics and a live page "
               "(serve), start the trainer and serve its metrics (run), print one report (status), estimate "
               "a run before it starts (plan), or send one test message to each destination "
               "(notify-test) or to Slack (slack-test).")
# Where a key means something else for one command than the field's own help says: (help, default).
COMMAND_TEXTS = {
    ("run", "log"): ("the log the trainer's output is appended to", "train.log in the current directory"),
    ("status", "run"): ("the run label of the report", "the log file's name"),
}


def _shown(field: dataclasses.Field) -> str:
    """How the help text names a key's default."""
    if field.metadata["default_text"]:
        return field.metadata["default_text"]
    return "unset" if field.default is None else str(field.default)


def _number(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


def _flag_help(field: dataclasses.Field, command: str) -> str:
    limits = field.metadata["limits"]
    allowed = f"{_number(limits[0])}..{_number(limits[1])}; " if limits else ""
    text, default = COMMAND_TEXTS.get((command, field.name), (field.metadata["help"], _shown(field)))
    return f"{text} ({allowed}default: {default})"


def _add_config_flags(parser: argparse.ArgumentParser, command: str, leave_out: tuple[str, ...] = (),
                      trainer_overrides: bool = True, shown_as: str | None = None) -> None:
    """One ``--kebab-case`` flag per Config field of ``command`` (but those in ``leave_out``), from
    the field's metadata. Its text is read by the key's kind and checked with the file's values by
    config.py; default None (not given), so a flag left out keeps the file's value."""
    parser.add_argument("--config", metavar="FILE", help="YAML configuration file; flags win over it (default: none)")
    for field in dataclasses.fields(Config):
        if command not in field.metadata["commands"] or field.name in leave_out:
            continue
        choices, kind = field.metadata["choices"], field.metadata["kind"]
        parser.add_argument("--" + field.name.replace("_", "-"), dest=field.name, choices=choices,
                            type=kind.from_text, help=_flag_help(field, shown_as or command), action="append" if kind.repeatable else None,
                            metavar=None if choices else field.metadata["metavar"])
    if trainer_overrides:
        parser.add_argument("--override", action="append", default=[], metavar="KEY=VALUE",
                            help="trainer setting that wins over the log (e.g. max_iters=5000 or max_iters=5k); "
                                 "repeatable (default: none)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="training-exporter", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"training-exporter {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="follow a training log and serve Prometheus metrics")
    _add_config_flags(serve, "serve")
    serve.add_argument("-v", "--verbose", action="store_true", help="debug logging (default: off)")

    _add_run_parser(commands)

    status = commands.add_parser(
        "status", help="read a training log once and print a progress report",
        epilog="exit status: 0 running, starting, finished or interrupted; 3 stalled; 4 crashed; 5 still waiting "
               "for the log; 2 a usage mistake (with --watch: 0 when Ctrl-C ends it)")
    status.add_argument("log", metavar="LOG", help="the trainer's log file")
    _add_config_flags(status, "status")
    status.add_argument("--json", action="store_true", help="print JSON instead of text (default: text)")
    status.add_argument("--watch", action="store_true",
                        help="follow the log and redraw the report in place until Ctrl-C (default: once)")
    status.add_argument("--interval", type=_seconds_in(0.1, 3600), default=2.0, metavar="S",
                        help="seconds between redraws with --watch (0.1..3600; default: 2)")

    slack = commands.add_parser("slack-test", help="send one test message to the Slack webhook and say whether "
                                                   "Slack accepted it")
    _add_config_flags(slack, "slack-test", trainer_overrides=False)
    notify = commands.add_parser("notify-test", help="send one test message to each destination of --notify-file "
                                                     "and --slack-webhook-file and say which accepted it")
    _add_config_flags(notify, "notify-test", trainer_overrides=False)

    plan = commands.add_parser("plan", help="estimate a nanoGPT run before it starts")
    from exporter.commands import plan as plan_command

    plan_command.add_arguments(plan)
    return parser


def _seconds_in(low: float, high: float) -> Callable[[str], float]:
    """An argparse type: seconds between ``low`` and ``high``."""
    def seconds(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = -1.0
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected seconds between {low:g} and {high:g}, got {text!r}")
        return value
    return seconds


def _add_run_parser(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser(
        "run", help="start the trainer, tee its output to the log and serve Prometheus metrics",
        usage="%(prog)s [options] -- COMMAND [ARG ...]",
        description="Start COMMAND (the trainer) with unbuffered output, pass its output through and append "
                    "it to --log, serve /metrics (its PID ends the run) until --grace-seconds after it exits; "
                    "SIGINT, SIGTERM and SIGHUP are forwarded to it; exits with its status.")
    _add_config_flags(run, "serve", leave_out=("trainer_pid",), shown_as="run")
    from exporter.commands.run import DEFAULT_GRACE_SECONDS

    run.add_argument("--grace-seconds", type=_seconds_in(0, 86400), default=DEFAULT_GRACE_SECONDS, metavar="S",
                     help="how long /metrics is served after the trainer exits, for Prometheus to see how it "
                          f"ended (0..86400; default: {DEFAULT_GRACE_SECONDS:g}, enough for the shipped rules "
                          "to fire the alert of the end at 15 s scrapes; Ctrl-C ends it early)")
    run.add_argument("-v", "--verbose", action="store_true", help="debug logging (default: off)")
    run.add_argument("trainer_command", nargs="*", metavar="COMMAND", help="the trainer's command, after --")


def _wrap(args: argparse.Namespace, config: Config) -> int:
    from exporter.commands import serve
    from exporter.commands import run as run_command

    if config.log and not config.single_log:
        raise UsageError("`run` writes one log: pass one --log PATH (not a glob)")
    log_path = config.single_log or os.path.join(os.getcwd(), "train.log")
    config = config.replace(log=(LogSource(log_path, config.logs[0].run if config.logs else None),))

    def prepare() -> run_command.Serve:
        listener = serve.preflight(config)
        return lambda stop, trainer: serve.run(config.replace(trainer_pid=trainer.pid), stop, trainer, listener)

    return run_command.run(args.trainer_command, log_path, args.grace_seconds, prepare)


def resolve_config(args: argparse.Namespace) -> Config:
    """YAML file < command-line flags; every problem, the file's and the flags', reported at once."""
    flags: dict[str, Any] = {
        field.name: getattr(args, field.name)
        for field in dataclasses.fields(Config)
        if getattr(args, field.name, None) is not None
    }
    good, problems = overrides.from_flags(getattr(args, "override", []))
    if good:
        flags["overrides"] = good
    return load(args.config, flags, problems)


def _run(args: argparse.Namespace) -> int:
    if args.command == "plan":
        from exporter.commands import plan as plan_command

        return plan_command.run(args)
    config = resolve_config(args)
    if args.command == "status":
        from exporter.commands import status as status_command

        return status_command.run(config, as_json=args.json,
                                  watch_seconds=args.interval if args.watch else None)
    if args.command == "run":
        return _wrap(args, config)
    if args.command == "slack-test":
        from exporter.notify import slack_test

        return slack_test(config.slack_webhook_file, config.slack_link)
    if args.command == "notify-test":
        from exporter.notify import notify_test

        return notify_test(config.notify_file, config.slack_webhook_file, config.slack_link)
    from exporter.commands import serve

    return serve.run(config)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    """The command line; a flag the command does not know is reported with that command's usage
    (for ``run``, with the hint to put the trainer's own flags after ``--``)."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        command = next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
        message = f"unrecognized arguments: {' '.join(unknown)}"
        if args.command == "run" and args.trainer_command:
            message += ("; the trainer's own flags go after -- (training-exporter run [options] -- "
                        f"{' '.join(args.trainer_command + unknown)})")
        command.choices[args.command].error(message)
    return args


def _main(argv: list[str] | None) -> int:
    args = _parse(argv)
    level = logging.INFO if args.command in ("serve", "run") else logging.WARNING
    logging.basicConfig(
        level=logging.DEBUG if getattr(args, "verbose", False) else level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return _run(args)
    except UsageError as exc:
        print(f"training-exporter: {exc}", file=sys.stderr)
        return 2


# The status of a program that a closed pipe stops (128 + SIGPIPE), as the shell reports it.
CLOSED_PIPE_STATUS = 141


def main(argv: list[str] | None = None) -> int:
    """Run one command. Output cut short by its reader (``status LOG | head -1``) ends the command
    quietly: the rest of its output goes to /dev/null, so not even Python's exit can complain."""
    try:
        try:
            return _main(argv)
        finally:
            sys.stdout.flush()  # inside the try: a closed pipe shows here, --help's SystemExit too
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return CLOSED_PIPE_STATUS
