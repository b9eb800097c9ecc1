"""A user's mistakes on the command line, one row each: the exit status and the message that names
the mistake and its fix, never a traceback; and output cut short by a closed pipe ends quietly."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT
from exporter.commands.cli import CLOSED_PIPE_STATUS, main
from nanogpt_fixture import scenario_two


@pytest.fixture
def paths(tmp_path):
    """The files a row may name: a log, YAML configs good and bad, a path that does not exist."""
    files = {
        "log": scenario_two(),
        "utf16": scenario_two().encode("utf-16").decode("latin-1"),
        "bad_key": "prot: 9842\n",
        "bad_overrides": "overrides: {max_iter: 3, eval_interval: 0, max_iters: '20k'}\nport: 0\n",
        "amount": "overrides: {max_iters: '20k'}\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="latin-1" if name == "utf16" else None)
    (tmp_path / "binary").write_bytes(bytes(range(256)) * 8)
    os.mkfifo(tmp_path / "fifo")
    return {"missing": str(tmp_path / "missing"), "dir": str(tmp_path), "fifo": str(tmp_path / "fifo"),
            "binary": str(tmp_path / "binary"), **{name: str(tmp_path / name) for name in files}}


def _run(argv: list[str], paths: dict[str, str], capsys) -> tuple[int, str, str]:
    """``main`` on ``argv`` with ``{name}`` filled from ``paths``: (status, stdout, stderr)."""
    filled = [arg.format(**paths) for arg in argv]
    try:
        status = main(filled)
    except SystemExit as exit_info:  # argparse's own mistakes
        status = exit_info.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


MISTAKES = [
    # --override for status and serve: the same check as plan's
    (["status", "{log}", "--override", "max_iters=-1"],
     "--override max_iters: expected a whole number of 1 or more, got -1"),
    (["status", "{log}", "--override", "max_iter=5000"],
     "--override max_iter: unknown trainer setting; did you mean max_iters?"),
    (["status", "{log}", "--override", "max_iters=5000.5"], "--override max_iters: expected a whole number, got 5000.5"),
    (["status", "{log}", "--override", "max_iters=5x"], "'5x' is not a number; write a whole number such as 5000, 5k or 5e3"),
    (["status", "{log}", "--override", "eval_interval=0"], "--override eval_interval: expected a whole number of 1"),
    (["status", "{log}", "--override", "nonsense"], "--override: override 'nonsense' is not key=value"),
    (["serve", "--log", "{log}", "--override", "batch_size=True"], "--override batch_size: expected a whole number of 1 or more, got True"),
    (["status", "{log}", "--max-iters", "5000.5"], "max_iters: expected a whole number, got '5000.5'"),
    (["plan", "--override", "max_iters=-1"], "--override max_iters: expected a whole number of 1 or more, got -1"),
    (["plan", "--override", "max_iter=5000"], "--override max_iter: unknown trainer setting; did you mean max_iters?"),
    # the YAML file
    (["status", "{log}", "--config", "{bad_key}"], "prot: unknown key; did you mean port?"),
    (["status", "{log}", "--config", "{missing}"], "cannot read the file"),
    # other flags
    (["serve", "--port", "0"], "port: 0 is outside 1..65535"),
    (["serve", "--log", "{log}", "--format", "nope"], "argument --format: invalid choice: 'nope'"),
    (["status", "{log}", "--format", "nope"], "argument --format: invalid choice: 'nope'"),
    (["plan", "--price-per-kwh", "-1"], "'-1' must be zero or more"),
    (["plan", "--mfu", "1.5"], "write the fraction 0.015 or the percentage 1.5%"),
    (["plan", "--mfu", "40"], "write the fraction 0.4 or the percentage 40%"),
    (["plan", "--mfu", "20-40"], "write the fraction 0.2-0.4 or the percentage 20-40%"),
    (["serve", "--log", "{log}", "--listen-address", "notanaddress"],
     "listen_address: 'notanaddress' is neither an IP address nor a host name this machine resolves"),
    (["status", "{log}", "--bogus"], "usage: training-exporter status"),
    (["run", "python", "train.py", "--batch_size=32"],
     "the trainer's own flags go after -- (training-exporter run [options] -- python train.py --batch_size=32)"),
    # files that are not there, or are not a log
    (["status", "{missing}"], "no log file at"),
    (["status", "{dir}"], "is a directory, not a log file; pass the path of the trainer's log file"),
    (["status", "{fifo}"], "is a pipe (FIFO), which can be read only once, not a log file"),
    (["status", "/dev/null"], "'/dev/null' is a character device, not a log file"),
    (["status", "{utf16}"], "the log is UTF-16 text; the exporter reads UTF-8"),
    (["status", "{binary}"], "the log is binary, not text"),
    (["status", "{log}", "--trainer-config", "{missing}"], "cannot read trainer config"),
    (["plan", "--trainer-config", "{missing}"], "cannot read trainer config"),
    (["plan", "{missing}"], "cannot read trainer config"),
]


@pytest.mark.parametrize(("argv", "message"), MISTAKES, ids=[" ".join(argv) for argv, _ in MISTAKES])
def test_a_mistake_exits_2_with_its_message(argv, message, paths, capsys):
    status, out, err = _run(argv, paths, capsys)
    assert status == 2
    assert message in err
    assert "Traceback" not in err and out == ""


def test_every_bad_override_and_file_key_is_reported_at_once_by_name(paths, capsys):
    argv = ["status", "{log}", "--config", "{bad_overrides}", "--override", "n_layers=3",
            "--override", "max_iters=-1"]
    status, _, err = _run(argv, paths, capsys)
    assert status == 2
    assert f"invalid configuration in {paths['bad_overrides']} and the command line:" in err
    for problem in ("--override n_layers: unknown trainer setting; did you mean n_layer?",
                    "--override max_iters: expected a whole number of 1 or more, got -1",
                    "overrides.max_iter: unknown trainer setting; did you mean max_iters?",
                    "overrides.eval_interval: expected a whole number of 1 or more, got 0",
                    "port: 0 is outside 1..65535"):
        assert f"  - {problem}\n" in err
    assert len(err.strip().splitlines()) == 6


@pytest.mark.parametrize("argv", [
    ["status", "{log}", "--override", "max_iters=20k"],
    ["status", "{log}", "--max-iters", "20k"],
    ["status", "{log}", "--max-iters", "2e4"],
    ["status", "{log}", "--config", "{amount}"],
])
def test_amounts_are_understood_as_whole_counts(argv, paths, capsys):
    status, out, err = _run([*argv, "--json"], paths, capsys)
    assert (status, err) == (0, "")
    report = json.loads(out)
    assert report["max_iterations"] == 20_000 and report["sources"]["max_iterations"] == "flag"


@pytest.mark.parametrize("flag", ["--price-per-kwh", "--price"])
def test_plan_takes_the_price_by_serves_name_and_its_old_one(flag, paths, capsys):
    status, out, _ = _run(["plan", "--gpu", "RTX 4070", flag, "0.3", "--mfu", "30%", "--json"], paths, capsys)
    assert status == 0
    data = json.loads(out)
    assert data["price_per_kwh"] == 0.3
    (case,) = data["durations"]
    assert case["mfu"] == pytest.approx(0.3)


# --- a reader that stops early (`status LOG | head -1`) ------------------------------------------

COMMANDS = [["status", "{log}"], ["status", "{log}", "--json"], ["plan"], ["plan", "--json"], ["--help"],
            ["status", "--help"], ["plan", "--help"], ["serve", "--help"]]


def _closed_early(argv: list[str], read_first_line: bool) -> subprocess.CompletedProcess:
    """Run the command as a process whose stdout is a pipe its reader closes: at once, before
    anything is written (the write must fail), or after the first line, as ``head -1`` does."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "exporter", *argv]
    if read_first_line:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        process.stdout.readline()
        process.stdout.close()
        err = process.stderr.read()
        return subprocess.CompletedProcess(command, process.wait(timeout=60), b"", err)
    reader, writer = os.pipe()
    os.close(reader)
    try:
        return subprocess.run(command, cwd=ROOT, env=env, stdout=writer, stderr=subprocess.PIPE, timeout=60)
    finally:
        os.close(writer)


@pytest.mark.parametrize("read_first_line", [False, True], ids=["closed at once", "closed after a line"])
@pytest.mark.parametrize("argv", COMMANDS, ids=[" ".join(argv) for argv in COMMANDS])
def test_output_cut_short_ends_quietly(argv, read_first_line, paths):
    result = _closed_early([arg.format(**paths) for arg in argv], read_first_line)
    err = result.stderr.decode()
    assert "Traceback" not in err and "Exception ignored" not in err and "BrokenPipeError" not in err, err
    # argparse itself ignores a failed write of --help; any other output closed at once must fail
    quiet_success = read_first_line or "--help" in argv
    assert result.returncode in ({0, CLOSED_PIPE_STATUS} if quiet_success else {CLOSED_PIPE_STATUS})
