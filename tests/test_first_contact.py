"""What a new user meets first, each as the report of issue 30 found it: help texts that tell the
truth, addresses as URLs, a log that is UTF-16, SIGHUP, the override example, a backfilled
checkpoint's time."""

from __future__ import annotations

import logging
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT
from exporter.commands.cli import build_parser
from exporter.log.follow import LogFollower
from exporter.log.watch import LogWatcher
from exporter.notify.messages import slack_test_payload
from exporter.notify.start import page_url
from exporter.run import RunModel
from exporter.server.addresses import listen_problem, url
from exporter_process import ExporterProcess
from nanogpt_fixture import scenario_two


def _help(*command: str) -> str:
    return subprocess.run([sys.executable, "-m", "exporter", *command, "--help"], cwd=ROOT, capture_output=True,
                          text=True, check=True, env={"PYTHONPATH": str(ROOT), "COLUMNS": "200"}).stdout


@pytest.mark.parametrize("command", [[], ["serve"], ["run"], ["status"], ["plan"], ["slack-test"]])
def test_help_has_no_markup(command):
    text = _help(*command)
    assert "``" not in text and ":class:" not in text and ":meth:" not in text


def test_run_help_shows_the_real_log_default():
    assert re.search(r"--log PATH +the log the trainer's output is appended to \(default: train\.log in the "
                     r"current directory\)", _help("run"))


def test_status_help_says_what_run_is_for_status():
    text = _help("status")
    assert "--run NAME" in text and "the run label of the report (default: the log file's name)" in text
    assert "without --log" not in text


def test_the_top_level_help_names_every_command():
    actions = [a for a in build_parser()._actions if a.dest == "command"]
    text = _help()
    assert all(f"({name})" in text for name in actions[0].choices)


@pytest.mark.parametrize(("host", "expected"), [("::1", "http://[::1]:9842/metrics"),
                                                 ("127.0.0.1", "http://127.0.0.1:9842/metrics"),
                                                 ("fe80::1%eth0", "http://[fe80::1%eth0]:9842/metrics")])
def test_an_ipv6_address_reads_in_brackets(host, expected):
    assert url(host, 9842, "/metrics") == expected
    assert page_url(host, 9842) == expected.removesuffix("metrics")


@pytest.mark.parametrize("address", ["127.0.0.1", "0.0.0.0", "::", "::1", "localhost", ""])
def test_usual_listen_addresses_are_accepted(address):
    assert listen_problem(address) is None


def test_the_slack_test_message_has_no_empty_title_link():
    attachment = slack_test_payload("host", None)["attachments"][0]
    assert "title_link" not in attachment
    assert slack_test_payload("host", "http://h:1/")["attachments"][0]["title_link"] == "http://h:1/"


def test_serve_names_a_utf16_log_at_once(tmp_path, caplog):
    log = tmp_path / "train.log"
    log.write_bytes(scenario_two().encode("utf-16"))
    watcher = LogWatcher(RunModel("r", str(log)), LogFollower(str(log)))
    with caplog.at_level(logging.WARNING):
        watcher.poll()
    assert [r.message for r in caplog.records if "UTF-16" in r.message] == [
        f"{log}: the log is UTF-16 text; the exporter reads UTF-8: have the trainer write UTF-8 "
        "(PYTHONIOENCODING=utf-8, or Out-File -Encoding utf8 in PowerShell), or convert it with iconv -f UTF-16 -t UTF-8"]
    watcher.poll()
    assert sum("UTF-16" in r.message for r in caplog.records) == 1


def test_sighup_stops_serve_normally(tmp_path):
    log = tmp_path / "train.log"
    log.write_text(scenario_two())
    with ExporterProcess("--log", str(log), "--run", "hup") as exporter:
        exporter.wait_for('training_iteration{run="hup"} 1300.0')
        exporter.process.send_signal(signal.SIGHUP)
        assert exporter.process.wait(timeout=30) == 0
        assert "stopping" in exporter.output() and "Traceback" not in exporter.output()


def test_the_readme_override_example_repeats_every_flag_of_the_compose_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = re.search(r"```yaml\nservices:\n  exporter:   # the whole command is replaced.*?```", readme, re.S).group(0)
    example_flags = set(re.findall(r"--[a-z-]+", example))
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    compose_flags = {str(arg).split("=")[0] for arg in compose["services"]["exporter"]["command"] if str(arg).startswith("--")}
    assert compose_flags <= example_flags


def test_a_backfilled_checkpoint_gets_its_time_from_the_trainer_clock(tmp_path):
    log = tmp_path / "train.log"
    log.write_text("iter 0: loss 4.0000, time 100.00ms, mfu -100.00%\n"
                   "iter 10: loss 3.9000, time 100.00ms, mfu 1.00%\n"
                   "saving checkpoint to out\n"
                   "iter 20: loss 3.8000, time 100.00ms, mfu 1.00%\n"
                   "iter 30: loss 3.7000, time 100.00ms, mfu 1.00%\n")
    modified = 1_700_000_000
    import os
    os.utime(log, (modified, modified))
    model = RunModel("r", str(log))
    LogWatcher(model, LogFollower(str(log)), clock=lambda: modified + 5.0).poll()
    snapshot = model.snapshot(modified + 5.0)
    assert snapshot.checkpoints == 1
    # 20 iterations of 0.1 s ran after the checkpoint, so it was saved 2 s before the file's last write
    assert snapshot.last_checkpoint_timestamp == pytest.approx(modified - 2.0)
