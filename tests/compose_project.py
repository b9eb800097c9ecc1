"""The repository's compose stack run with Docker, for tests/test_compose_stack.py: a copy of the
files `docker compose` reads (compose files, exporter build context, prometheus/, grafana/,
secrets/*/README.md) in a directory of its own, with a `.env` made from `.env.example`, so that a
test never writes into the checkout (a real Slack webhook file there stays untouched)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
COPIED = ["docker-compose.yml", "docker-compose.gpu.yml", "docker-compose.node.yml", ".dockerignore",
          ".env.example", "pyproject.toml", "README.md", "exporter", "prometheus", "grafana"]


def _run(command: list[str], timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)


def compose_command() -> list[str] | None:
    """``docker compose`` (v2) where the plugin is installed, else Debian's ``docker-compose`` (v1)."""
    if shutil.which("docker") and _run(["docker", "compose", "version"]).returncode == 0:
        return ["docker", "compose"]
    return ["docker-compose"] if shutil.which("docker-compose") else None


def docker_missing() -> str | None:
    """Why the stack cannot be started here, or None."""
    if not shutil.which("docker"):
        return "docker is not installed (CI installs docker.io and starts dockerd: see .ci/run)"
    info = _run(["docker", "info", "--format", "{{.ServerVersion}}"])
    if info.returncode != 0:
        reason = (info.stderr.strip().splitlines() or ["no answer"])[-1]
        return f"the Docker daemon is not reachable ({reason}); start dockerd"
    if compose_command() is None:
        return "neither `docker compose` nor docker-compose is installed (Debian: apt-get install docker-compose)"
    return None


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ComposeProject:
    """One compose project in ``directory`` (a copy of the repository's stack files)."""

    def __init__(self, directory: Path, settings: dict[str, str]) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        for name in COPIED:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(source, directory / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                shutil.copy2(source, directory / name)
        for nodes in (directory / "prometheus" / "targets").glob("*.json"):
            nodes.unlink()  # this checkout's own node list (git-ignored)
        for secrets in (ROOT / "secrets").iterdir():
            if secrets.is_dir():
                (directory / "secrets" / secrets.name).mkdir(parents=True)
                shutil.copy2(secrets / "README.md", directory / "secrets" / secrets.name / "README.md")
        self.directory = directory
        self.name = settings["COMPOSE_PROJECT_NAME"]
        self.command = compose_command()
        (directory / ".env").write_text(env_file(settings))

    def compose(self, *args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
        result = _run([*self.command, *args], timeout=timeout, cwd=self.directory)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(self.command)} {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
        return result

    def container(self, service: str) -> str:
        ids = self.compose("ps", "-q", service).stdout.split()
        assert ids, f"no container for {service}:\n{self.logs()}"
        return ids[0]

    def inspect(self, service: str) -> dict:
        return json.loads(_run(["docker", "inspect", self.container(service)]).stdout)[0]

    def containers(self) -> dict[str, dict]:
        """Every running container of the project by its service name, as docker inspect shows it."""
        found = {}
        for container in self.compose("ps", "-q").stdout.split():
            details = json.loads(_run(["docker", "inspect", container]).stdout)[0]
            found[details["Config"]["Labels"]["com.docker.compose.service"]] = details
        return found

    def exec(self, service: str, *command: str, user: str | None = None) -> subprocess.CompletedProcess:
        as_user = ["--user", user] if user else []
        return _run(["docker", "exec", *as_user, self.container(service), *command])

    def logs(self, *services: str) -> str:
        result = self.compose("logs", "--no-color", "--tail", "40", *services, check=False)
        return result.stdout + result.stderr

    def wait_healthy(self, service: str, timeout: float) -> float:
        """Seconds until Docker reports the service's own health check healthy."""
        started = time.monotonic()
        status = None
        while time.monotonic() - started < timeout:
            status = self.inspect(service)["State"].get("Health", {}).get("Status")
            if status == "healthy":
                return time.monotonic() - started
            time.sleep(1)
        raise AssertionError(f"{service} is {status}, not healthy, after {timeout:.0f} s:\n{self.logs(service)}")

    def down(self) -> None:
        self.compose("down", "--volumes", "--remove-orphans", "--timeout", "5", check=False)


def env_file(settings: dict[str, str]) -> str:
    """.env.example with ``settings``: an example line replaced where it sets (or shows) the name,
    the others added at the end."""
    text = (ROOT / ".env.example").read_text()
    rest = {}
    for name, value in settings.items():
        text, count = re.subn(rf"^(# )?{name}=.*$", f"{name}={value}", text, count=1, flags=re.M)
        if not count:
            rest[name] = value
    return text + "".join(f"{name}={value}\n" for name, value in rest.items())


def wait_for(what: str, probe, timeout: float, diagnostics=lambda: ""):
    """Calls ``probe`` (a falsy answer or a requests error: not yet) until it answers; its answer."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = probe()
            if last:
                return last
        except requests.RequestException as error:
            last = error
        time.sleep(1)
    raise AssertionError(f"{what}: not within {timeout:.0f} s (last: {last!r})\n{diagnostics()}")
