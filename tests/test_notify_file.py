"""The notify file: one apprise URL per line, each a destination named by its service and line;
checked at start with one message naming the file, the line and the fix (never a line's content),
exit 2 before a trainer starts; readable by its owner only."""

import os
import subprocess
import sys

import pytest

from exporter.commands.config import ConfigError, load
from exporter.errors import UsageError
from exporter.notify.destinations import read_destinations, read_notify_file
from exporter_process import REPO

SECRET = "tokentokentoken0123456789"


def _file(tmp_path, text, mode=0o600):
    path = tmp_path / "notify"
    path.write_text(text)
    os.chmod(path, mode)
    return str(path)


def test_each_line_is_a_destination_named_by_service_and_line(tmp_path):
    path = _file(tmp_path, f"# the lab\n\ndiscord://123456/{SECRET}\n  tgram://123456789:AAbb{SECRET}/-100123  \n"
                           "mailtos://user:pw@smtp.example.com:587?to=me@example.com\njson://127.0.0.1:9/x\n"
                           f"ntfys://topic\nslack://T0AAA/B0BBB/{SECRET}\nworkflows://host.example.com:443/wf/sig\n")
    destinations = read_notify_file(path)
    assert [d.name for d in destinations] == ["discord#3", "telegram#4", "email#5", "json#6", "ntfy#7", "slack#8",
                                              "workflows#9"]
    assert destinations[1].url == f"tgram://123456789:AAbb{SECRET}/-100123"


def test_the_slack_webhook_file_is_one_more_destination(tmp_path):
    hook = tmp_path / "hook"
    hook.write_text("https://hooks.slack.com/services/T0/B0/x\n")
    notify = _file(tmp_path, "json://127.0.0.1:9/x\n")
    assert [d.name for d in read_destinations(notify, str(hook))] == ["json#1", "slack-webhook-file"]
    assert [d.name for d in read_destinations(None, str(hook))] == ["slack-webhook-file"]


@pytest.mark.parametrize(("text", "mode", "said"), [
    (f"discord://123456/{SECRET}\n", 0o644, "can be read by others; it holds secrets: chmod 600"),
    (f"json://127.0.0.1:9/x\nnot-a-url-{SECRET}\n", 0o600, "line 2 of the notify file"),
    (f"discord://{SECRET}\n", 0o600, "line 1 of the notify file"),
    (f"msteams://a/b/{SECRET}\n", 0o600, "use its URL as workflows://"),
    ("# only a comment\n\n", 0o600, "holds no destination"),
    ("".join(f"json://127.0.0.1:{n}/x\n" for n in range(1, 34)), 0o600, "33 destinations, more than 32"),
])
def test_a_mistake_names_the_file_the_line_and_the_fix_never_the_content(tmp_path, text, mode, said):
    path = _file(tmp_path, text, mode)
    with pytest.raises(UsageError) as error:
        read_notify_file(path)
    message = str(error.value)
    assert said in message and path in message and SECRET not in message


def test_a_missing_or_binary_file_is_a_configuration_problem(tmp_path):
    with pytest.raises(ConfigError) as error:
        load(None, {"notify_file": str(tmp_path / "none")})
    (problem,) = error.value.problems
    assert problem.startswith(f"notify_file: cannot read the notify file {tmp_path / 'none'}: No such file")
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe discord://x\n")
    os.chmod(binary, 0o600)
    with pytest.raises(UsageError, match="is not UTF-8 text"):
        read_notify_file(str(binary))


def test_a_bad_notify_file_stops_run_before_the_trainer_starts(tmp_path):
    path = _file(tmp_path, f"discord://123456/{SECRET}\n", 0o640)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "exporter", "run", "--log", str(tmp_path / "train.log"),
                           "--notify-file", path, "--", sys.executable, "-c", "open('started', 'w')"],
                          capture_output=True, text=True, env=env, timeout=60, cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"notify_file: the notify file {path} can be read by others" in done.stderr
    assert SECRET not in done.stderr and not (tmp_path / "started").exists()


def test_notify_test_without_a_destination_names_the_flags():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "exporter", "notify-test"], capture_output=True, text=True,
                          env=env, timeout=60)
    assert done.returncode == 2 and "pass --notify-file PATH" in done.stderr
