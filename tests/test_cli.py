"""The command line: flags made from Config's field metadata, format choices from the registry, and
one exit path for every mistake a user can fix."""

import argparse
import dataclasses
import sys
import types

import pytest

import exporter.commands
from exporter.commands.cli import build_parser, main, resolve_config
from exporter.commands.config import Config, ConfigError
from exporter.errors import UsageError
from exporter.formats import FORMAT_NAMES
from exporter.formats.custom import CustomFormatError
from exporter.formats.jsonl import FieldsError
from exporter.trainer.config_file import ConfigFileError


def _command(name):
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return commands.choices[name]


def _flags(name):
    return [a for a in _command(name)._actions if a.option_strings and a.dest != "help"]


def test_every_serve_flag_has_help_and_shows_its_default():
    flags = _flags("serve")
    assert len(flags) >= 24
    for action in flags:
        assert action.help and "default: " in action.help, action.option_strings


def test_config_flags_show_the_config_default_but_default_to_not_given():
    defaults = Config()
    for action in _flags("serve"):
        field = next((f for f in dataclasses.fields(Config) if f.name == action.dest), None)
        if field is None:
            continue
        assert action.default is None, action.dest
        shown = field.metadata["default_text"] or getattr(defaults, field.name)
        assert f"default: {'unset' if shown is None else shown})" in action.help, action.dest


def test_serve_help_prints(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "--port PORT" in text and "default: 9842" in text and "--log PATH" in text


@pytest.mark.parametrize("command", ["serve", "status"])
def test_format_choices_are_the_registry(command):
    (action,) = [a for a in _flags(command) if a.dest == "format"]
    assert tuple(action.choices) == FORMAT_NAMES


def test_status_and_serve_share_all_but_the_serving_keys():
    keys = {f.name for f in dataclasses.fields(Config)}
    serve = {a.dest for a in _flags("serve")} & keys
    status = {a.dest for a in _flags("status")} & keys
    assert status < serve
    assert {"port", "gpus", "psu_efficiency", "log"} <= serve - status


def test_a_flag_left_out_keeps_the_files_value(tmp_path):
    path = tmp_path / "exporter.yml"
    path.write_text("port: 9900\ncurrency: EUR\n")
    config = resolve_config(build_parser().parse_args(["serve", "--config", str(path), "--gpus", "0, 1"]))
    assert config.port == 9900 and config.currency == "EUR" and config.gpus == ["0", "1"]
    config = resolve_config(build_parser().parse_args(["serve", "--config", str(path), "--port", "9901"]))
    assert config.port == 9901


def test_every_bad_flag_is_reported_at_once_with_its_key():
    args = build_parser().parse_args(["serve", "--port", "many", "--other-watts", "lots", "--max-iters", "5000.5"])
    with pytest.raises(ConfigError) as error:
        resolve_config(args)
    assert len(error.value.problems) == 3
    assert "port: expected an integer, got 'many'" in str(error.value)
    assert "other_watts: expected a number" in str(error.value)


def _fake_command(monkeypatch, name, error):
    def run(*_args, **_kwargs):
        raise error

    module = types.SimpleNamespace(run=run)
    monkeypatch.setitem(sys.modules, f"exporter.commands.{name}", module)
    monkeypatch.setattr(exporter.commands, name, module, raising=False)


@pytest.mark.parametrize("error", [
    UsageError("no log given: pass --log PATH"),
    ConfigFileError("cannot read trainer config nope.py: No such file or directory"),
    CustomFormatError("mine.yml", ["progress: required"]),
    FieldsError("jsonl_fields: unknown field(s) lost"),
])
@pytest.mark.parametrize("command", [["serve"], ["status", "train.log"]])
def test_a_usage_error_from_any_layer_exits_2_with_one_message(command, error, monkeypatch, capsys):
    _fake_command(monkeypatch, command[0], error)
    assert main(command) == 2
    captured = capsys.readouterr()
    assert captured.err == f"training-exporter: {error}\n"
    assert "Traceback" not in captured.err and captured.out == ""


def test_a_bad_configuration_exits_2_before_the_command_runs(monkeypatch, capsys):
    _fake_command(monkeypatch, "serve", AssertionError("must not run"))
    assert main(["serve", "--port", "0", "--format", "custom"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("training-exporter: invalid configuration in the command line:")
    assert "port: 0 is outside 1..65535" in err and "custom_format_file: required" in err
    assert "Traceback" not in err


def test_plan_mistakes_exit_2_with_one_message(capsys):
    assert main(["plan", "--gpu", "GTX 1080"]) == 2
    captured = capsys.readouterr()
    assert "unknown GPU 'GTX 1080'" in captured.err and "Traceback" not in captured.err
    assert len(captured.err.strip().splitlines()) == 1
