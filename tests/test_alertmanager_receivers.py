"""The compose stack's receivers beyond Slack: prometheus/alertmanager-start.sh (Alertmanager's
entrypoint) keeps the Slack, Discord, Telegram, e-mail and webhook blocks of alertmanager.yml only
for the secret files present, so the stack starts with none of them; what it writes passes Debian's
amtool; the messages render with amtool; README shows each one-line set-up."""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from test_prometheus_config import NOTIFICATIONS, _notification

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "prometheus" / "alertmanager-start.sh"
CONFIG = ROOT / "prometheus" / "alertmanager.yml"
FILES = {
    "slack_webhook_url": "https://hooks.slack.com/services/T000/B000/XXXX",
    "discord_webhook_url": "https://discord.com/api/webhooks/123/abc",
    "webhook_url": "https://example.com/alerts",
    "telegram.yml": 'bot_token: "123456:ABC-DEF"\nchat_id: -1001234567890\n',
    "email.yml": 'to: me@example.com\nfrom: alerts@example.com\nsmarthost: smtp.example.com:587\n'
                 'auth_username: alerts@example.com\nauth_password: "app: password"\n',
}
KINDS = {"slack_webhook_url": "slack_configs", "discord_webhook_url": "discord_configs",
         "webhook_url": "webhook_configs", "telegram.yml": "telegram_configs", "email.yml": "email_configs"}


def _start(tmp_path: Path, files: dict[str, str], *flags: str, alertmanager: str = "true"):
    secrets = tmp_path / "secrets"
    secrets.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (secrets / name).write_text(content)
    env = {**os.environ, "SECRETS": str(secrets), "OUT": str(tmp_path / "alertmanager.yml"),
           "ALERTMANAGER": alertmanager}
    return subprocess.run(["sh", str(SCRIPT), *flags], env=env, capture_output=True, text=True, timeout=30)


def written_config(tmp_path: Path, **files: str) -> Path:
    """The configuration the entrypoint writes with ``files`` in the secrets directory."""
    done = _start(tmp_path, files, f"--config.file={CONFIG}")
    assert done.returncode == 0, done.stderr
    return tmp_path / "alertmanager.yml"


def _amtool() -> str:
    tool = shutil.which("amtool")
    if tool is None:
        pytest.skip("amtool is not installed (Debian: apt-get install prometheus-alertmanager)")
    return tool


def _check(path: Path) -> str:
    done = subprocess.run([_amtool(), "check-config", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _receivers(path: Path) -> dict[str, dict]:
    return {r["name"]: r for r in yaml.safe_load(path.read_text())["receivers"]}


def test_without_any_secret_file_every_receiver_is_empty_and_amtool_accepts_it(tmp_path):
    path = written_config(tmp_path)
    assert "2 receivers" in _check(path)
    assert _receivers(path) == {"team": {"name": "team"}, "team-once": {"name": "team-once"}}
    templates = yaml.safe_load(path.read_text())["templates"]
    assert templates == [str(ROOT / "prometheus" / "templates" / "*.tmpl")]
    assert oct(path.stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize("name", sorted(FILES))
def test_each_file_turns_on_its_own_receiver_only(tmp_path, name):
    receivers = _receivers(written_config(tmp_path, **{name: FILES[name]}))
    for receiver in receivers.values():
        assert {key for key in receiver if key.endswith("_configs")} == {KINDS[name]}
    (firing,), (info,) = receivers["team"][KINDS[name]], receivers["team-once"][KINDS[name]]
    assert firing["send_resolved"] is True and info["send_resolved"] is False
    assert {k: v for k, v in info.items() if k != "send_resolved"} == \
        {k: v for k, v in firing.items() if k != "send_resolved"}
    if name.endswith(".yml"):
        assert yaml.safe_load(FILES[name]).items() <= firing.items()
    else:
        assert f"/etc/alertmanager/secrets/{name}" in firing.values(), "the URL is read from its file"


def test_slack_telegram_and_e_mail_together_pass_debians_amtool(tmp_path):
    files = {name: FILES[name] for name in ("slack_webhook_url", "telegram.yml", "email.yml")}
    path = written_config(tmp_path, **files)
    _check(path)
    team = _receivers(path)["team"]
    assert team["telegram_configs"][0]["parse_mode"] == "HTML"
    assert team["email_configs"][0]["auth_password"] == "app: password"


def test_discord_and_the_webhook_read_their_url_files_with_an_alertmanager_that_knows_them(tmp_path):
    """webhook_url_file (Discord) and url_file (webhook) came with Alertmanager 0.26; the stack runs
    0.28.1. Debian's amtool may be older."""
    path = written_config(tmp_path, **{name: FILES[name] for name in ("discord_webhook_url", "webhook_url")})
    version = subprocess.run([_amtool(), "--version"], capture_output=True, text=True).stdout
    major_minor = tuple(int(part) for part in re.search(r"version (\d+)\.(\d+)", version).groups())
    if major_minor < (0, 26):
        pytest.skip(f"amtool {'.'.join(map(str, major_minor))} predates webhook_url_file and url_file (0.26)")
    _check(path)


def test_the_entrypoint_runs_alertmanager_with_the_same_flags_on_the_written_file(tmp_path):
    done = _start(tmp_path, {}, f"--config.file={CONFIG}", "--storage.path=/alertmanager",
                  "--data.retention=170h", alertmanager="echo")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [f"--config.file={tmp_path / 'alertmanager.yml'}", "--storage.path=/alertmanager",
                                   "--data.retention=170h"]
    missing = _start(tmp_path, {}, "--storage.path=/x")
    assert missing.returncode == 2 and "no --config.file given" in missing.stderr


def test_compose_runs_alertmanager_through_the_entrypoint_with_its_config_file():
    service = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["alertmanager"]
    assert service["entrypoint"] == ["/bin/sh", "/etc/alertmanager/start.sh"]
    assert "./prometheus/alertmanager-start.sh:/etc/alertmanager/start.sh:ro" in service["volumes"]
    assert "--config.file=/etc/alertmanager/alertmanager.yml" in service["command"]


def _render(tmp_path: Path, notification: dict, definition: str) -> str:
    data = tmp_path / "data.json"
    data.write_text(json.dumps(notification))
    done = subprocess.run([_amtool(), "template", "render", f"--template.glob={ROOT / 'prometheus/templates/*.tmpl'}",
                           f"--template.data={data}", f"--template.text={{{{ template \"{definition}\" . }}}}"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_plain_text_has_the_slack_lines_without_slack_markup(tmp_path):
    assert _render(tmp_path, NOTIFICATIONS["stalled"], "training.plain.text") == (
        "Run gpt2 small has printed no progress for 5m 0s\nCheck first: the trainer.\n• Iteration: 1300 / 20000\n"
        "• ETA: 1h 2m\n• Cost so far: 1.23 EUR\n• Since: 2025-03-04 05:06 UTC\n"
        "Open the dashboard: http://localhost:3000/d/training-exporter?var-run=gpt2+small")
    assert _render(tmp_path, NOTIFICATIONS["stalled-resolved"], "training.plain.text").splitlines()[0] == \
        "Resolved: Run gpt2 small has printed no progress for 5m 0s"


def test_telegrams_html_escapes_what_the_run_and_the_rules_say(tmp_path):
    odd = _notification("firing", {"alertname": "TrainingStalled", "severity": "critical", "run": "a<b>&c"},
                        {"summary": "loss < 1 & no progress", "description": "Check first: <script>."})
    text = _render(tmp_path, odd, "training.telegram.text")
    assert text.splitlines()[:3] == ["<b>CRITICAL: TrainingStalled · run a&lt;b&gt;&amp;c</b>",
                                     "<b>loss &lt; 1 &amp; no progress</b>", "Check first: &lt;script&gt;."]
    assert text.endswith('<a href="http://localhost:3000/d/training-exporter?var-run=a%3Cb%3E%26c">'
                         'Open the dashboard</a>')


def test_readme_shows_the_one_line_set_up_of_each_receiver():
    readme = (ROOT / "README.md").read_text()
    both = readme + (ROOT / "secrets" / "README.md").read_text()
    for name in FILES:
        assert f"> secrets/alertmanager/{name})" in readme, name
        assert "(umask 077 && printf " in readme and f"sudo chown 65534 secrets/alertmanager/{name}" in both, name


def test_the_readmes_one_liners_write_files_the_entrypoint_and_amtool_accept(tmp_path):
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"`(\(umask 077 && printf .*? > secrets/alertmanager/[a-z_.]+\))`", readme)
    (tmp_path / "secrets" / "alertmanager").mkdir(parents=True)
    for command in commands:
        subprocess.run(["sh", "-c", command], cwd=tmp_path, check=True, timeout=10)
    written = {p.name: p.read_text() for p in (tmp_path / "secrets" / "alertmanager").iterdir()}
    assert set(written) == set(FILES) - {"slack_webhook_url"}  # Slack's is in its own section
    assert all(oct((tmp_path / "secrets" / "alertmanager" / name).stat().st_mode & 0o777) == "0o600"
               for name in written)
    usable = {name: text for name, text in written.items() if name.endswith(".yml")}
    receivers = _receivers(_check_path(written_config(tmp_path / "out", **usable)))
    assert receivers["team"]["telegram_configs"][0]["chat_id"] == -1001234567890
    assert receivers["team"]["email_configs"][0]["smarthost"] == "smtp.example.com:587"


def _check_path(path: Path) -> Path:
    _check(path)
    return path
