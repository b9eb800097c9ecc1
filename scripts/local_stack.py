"""Run the project's Prometheus + Alertmanager as local processes (no Docker) against a local exporter.

The shipped files in prometheus/ are never modified. LocalStack writes copies into ``workdir``:

- prometheus.yml with the compose targets (exporter:9842, prometheus:9090, alertmanager:9093)
  rewritten to 127.0.0.1 and the given ports, optionally a shorter scrape/evaluation interval;
- rules/*.yml, the project's rule files, optionally with every ``for:`` capped (``for_cap``);
- alertmanager.yml with ``api_url_file`` pointing at ``slack_url_file``, the templates at the
  repository's prometheus/templates/, and optionally shorter group_wait / group_interval.

Everything listens on 127.0.0.1 only (Alertmanager's cluster port is switched off).

API (tests import it by path; ``scripts/`` is not a package)::

    import importlib.util, pathlib
    spec = importlib.util.spec_from_file_location("local_stack", pathlib.Path("scripts/local_stack.py"))
    local_stack = importlib.util.module_from_spec(spec); spec.loader.exec_module(local_stack)

    missing = local_stack.missing_binaries()        # [] when prometheus and alertmanager are installed
    port = local_stack.free_port()                  # a free TCP port on 127.0.0.1
    with local_stack.LocalStack(
        exporter_port=9842,                         # where the exporter already listens (127.0.0.1)
        workdir=tmp_path,                           # generated configs, TSDB, process logs
        prometheus_port=None, alertmanager_port=None,  # None: a free port each
        alertmanager=True,                          # False: Prometheus alone (no alerting section)
        slack_url_file=None,                        # file holding the webhook URL (None: a missing file)
        scrape_interval="1s", evaluation_interval=None,  # None: shipped values (15s); eval defaults to scrape
        for_cap="2s",                               # cap every rule's for: (None: as shipped)
        group_wait="1s", group_interval="1s", repeat_interval=None,  # Alertmanager timings (None: shipped)
        alert_resend_delay="1s",                    # Prometheus --rules.alert.resend-delay (None: default 1m)
    ) as stack:
        stack.prometheus_url, stack.alertmanager_url    # http://127.0.0.1:PORT
        stack.wait_for_target("training-exporter")      # until Prometheus scraped the exporter successfully
        stack.query("training_iteration")               # instant query: the result list of the API
        stack.query_value('sum(training_iteration)')    # float of the first sample, None when empty
        stack.query_range(expr, start, end, step)       # range query: the result list of the API
        stack.alerts()                                  # Prometheus' active alerts (pending and firing)
        stack.alertmanager_alerts()                     # alerts Alertmanager holds (API v2)
        stack.wait_until(lambda: stack.query_value(...) == 1, timeout=30, what="...")
        stack.logs()                                    # both processes' output, for failure messages

Command line (for people): ``python3 scripts/local_stack.py --exporter-port 9842`` starts the stack
with the shipped timings on the default ports 9090/9093 and prints the URLs; Ctrl-C stops it, and
so do SIGTERM and SIGHUP (``kill``, a closed terminal): Prometheus and Alertmanager never outlive it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Callable

import yaml

REPO = Path(__file__).resolve().parent.parent
CONFIG_DIR = REPO / "prometheus"
COMPOSE_FILE = REPO / "docker-compose.yml"
# Compose service names in the shipped prometheus.yml, rewritten to local ports.
SERVICES = ("exporter", "prometheus", "alertmanager")

_BINARIES = {
    "prometheus": ("PROMETHEUS_BIN", ("prometheus",)),
    # Debian and Ubuntu install Alertmanager as prometheus-alertmanager.
    "alertmanager": ("ALERTMANAGER_BIN", ("alertmanager", "prometheus-alertmanager")),
}


class _NoAliasDumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def find_binary(tool: str) -> str | None:
    """Path of ``prometheus`` or ``alertmanager`` ($PROMETHEUS_BIN / $ALERTMANAGER_BIN win), or None."""
    env_name, names = _BINARIES[tool]
    if os.environ.get(env_name):
        return os.environ[env_name]
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    return None


def missing_binaries(alertmanager: bool = True) -> list[str]:
    tools = ["prometheus", "alertmanager"] if alertmanager else ["prometheus"]
    return [tool for tool in tools if find_binary(tool) is None]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def parse_duration(text: str) -> float:
    """Seconds in a Prometheus duration such as ``1m30s``."""
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a Prometheus duration: {text!r}")
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)


def compose_flag(service: str, flag: str, compose_file: Path = COMPOSE_FILE) -> str:
    """The value docker-compose.yml gives ``service``'s ``--flag=value``: one setting for both stacks
    (Alertmanager's ``--data.retention`` must outlast the once-only repeat interval)."""
    command = yaml.safe_load(compose_file.read_text())["services"][service]["command"]
    for argument in command:
        name, equals, value = argument.partition("=")
        if equals and name == f"--{flag}":
            return value
    raise LookupError(f"{compose_file} gives {service} no --{flag}=VALUE")


def _dump(data: Any, path: Path) -> Path:
    path.write_text(yaml.dump(data, Dumper=_NoAliasDumper, sort_keys=False, allow_unicode=True, width=10_000))
    return path


def _rewrite_target(target: str, ports: dict[str, int | None]) -> str | None:
    host, _, _ = target.rpartition(":")
    if host not in ports:
        return target
    port = ports[host]
    return None if port is None else f"127.0.0.1:{port}"


def _rewrite_static_configs(static_configs: list[dict], ports: dict[str, int | None]) -> list[dict]:
    rewritten = []
    for static in static_configs:
        targets = [t for t in (_rewrite_target(t, ports) for t in static.get("targets", [])) if t]
        if targets:
            rewritten.append({**static, "targets": targets})
    return rewritten


def _set_route_timings(route: dict, timings: dict[str, str]) -> None:
    """Set ``timings`` on the root route and drop them below, so that every route inherits them."""
    route.update(timings)
    pending = list(route.get("routes", []))
    while pending:
        child = pending.pop()
        for key in timings:
            child.pop(key, None)
        pending.extend(child.get("routes", []))


class LocalStack:
    """Prometheus (+ Alertmanager) from the repository's configuration; see the module docstring."""

    def __init__(
        self,
        exporter_port: int,
        workdir: str | os.PathLike,
        prometheus_port: int | None = None,
        alertmanager_port: int | None = None,
        *,
        alertmanager: bool = True,
        slack_url_file: str | os.PathLike | None = None,
        scrape_interval: str | None = "1s",
        evaluation_interval: str | None = None,
        for_cap: str | None = None,
        group_wait: str | None = None,
        group_interval: str | None = None,
        repeat_interval: str | None = None,
        alert_resend_delay: str | None = None,
        config_dir: str | os.PathLike = CONFIG_DIR,
    ) -> None:
        self.exporter_port = exporter_port
        self.workdir = Path(workdir).resolve()
        self.prometheus_port = prometheus_port or free_port()
        self.with_alertmanager = alertmanager
        self.alertmanager_port = (alertmanager_port or free_port()) if alertmanager else None
        self.slack_url_file = Path(slack_url_file).resolve() if slack_url_file else self.workdir / "slack_webhook_url"
        self.scrape_interval = scrape_interval
        self.evaluation_interval = evaluation_interval or scrape_interval
        self.for_cap = for_cap
        self.alertmanager_timings = {
            key: value
            for key, value in (("group_wait", group_wait), ("group_interval", group_interval),
                               ("repeat_interval", repeat_interval))
            if value is not None
        }
        self.alert_resend_delay = alert_resend_delay
        self.config_dir = Path(config_dir).resolve()
        self.prometheus_url = f"http://127.0.0.1:{self.prometheus_port}"
        self.alertmanager_url = f"http://127.0.0.1:{self.alertmanager_port}" if alertmanager else None
        self._processes: dict[str, subprocess.Popen] = {}
        self._log_paths: dict[str, Path] = {}

    # ---------------------------------------------------------------- generated configuration
    def write_rules(self) -> list[Path]:
        """Copies of prometheus/rules/*.yml in workdir/rules, ``for:`` capped at ``for_cap``."""
        rules_dir = self.workdir / "rules"
        rules_dir.mkdir(parents=True, exist_ok=True)
        cap = parse_duration(self.for_cap) if self.for_cap else None
        written = []
        for source in sorted((self.config_dir / "rules").glob("*.yml")):
            data = yaml.safe_load(source.read_text())
            for group in data.get("groups", []):
                for rule in group.get("rules", []):
                    if cap is not None and "for" in rule and parse_duration(rule["for"]) > cap:
                        rule["for"] = self.for_cap
            written.append(_dump(data, rules_dir / source.name))
        return written

    def write_prometheus_config(self) -> Path:
        config = yaml.safe_load((self.config_dir / "prometheus.yml").read_text())
        ports = {"exporter": self.exporter_port, "prometheus": self.prometheus_port,
                 "alertmanager": self.alertmanager_port}
        glob = config.setdefault("global", {})
        if self.scrape_interval:
            glob["scrape_interval"] = self.scrape_interval
            timeout = glob.get("scrape_timeout")
            if timeout is None or parse_duration(timeout) > parse_duration(self.scrape_interval):
                glob["scrape_timeout"] = self.scrape_interval
        if self.evaluation_interval:
            glob["evaluation_interval"] = self.evaluation_interval
        config["rule_files"] = [str(path) for path in self.write_rules()]
        scrape_configs = []
        for job in config.get("scrape_configs", []):
            statics = _rewrite_static_configs(job.get("static_configs", []), ports)
            if statics:
                scrape_configs.append({**job, "static_configs": statics,
                                       **self._file_sd(job.get("file_sd_configs"))})
        config["scrape_configs"] = scrape_configs
        if self.with_alertmanager:
            for manager in config.get("alerting", {}).get("alertmanagers", []):
                manager["static_configs"] = _rewrite_static_configs(manager.get("static_configs", []), ports)
        else:
            config.pop("alerting", None)
        return _dump(config, self.workdir / "prometheus.yml")

    def _file_sd(self, file_sd_configs: list[dict] | None) -> dict:
        """The node lists (``targets/*.json``) both next to the generated config and in the
        repository's ``prometheus/``, where a user keeps them."""
        if not file_sd_configs:
            return {}
        return {"file_sd_configs": [
            {**sd, "files": [*sd["files"], *(str(self.config_dir / f) for f in sd["files"] if not os.path.isabs(f))]}
            for sd in file_sd_configs]}

    def write_alertmanager_config(self) -> Path:
        config = yaml.safe_load((self.config_dir / "alertmanager.yml").read_text())
        for receiver in config.get("receivers", []):
            # Slack only: the other receivers need their secret files (and an Alertmanager of 0.26 or later)
            for kind in [key for key in receiver if key.endswith("_configs") and key != "slack_configs"]:
                receiver.pop(kind)
            for slack in receiver.get("slack_configs", []):
                slack.pop("api_url", None)
                slack["api_url_file"] = str(self.slack_url_file)
        config["templates"] = [str(self.config_dir / pattern) for pattern in config.get("templates", [])]
        if self.alertmanager_timings:
            _set_route_timings(config["route"], self.alertmanager_timings)
        return _dump(config, self.workdir / "alertmanager.yml")

    def alertmanager_command(self) -> list[str]:
        """Alertmanager's command line, keeping notifications as long as docker-compose.yml does."""
        return [
            find_binary("alertmanager") or "alertmanager",
            f"--config.file={self.write_alertmanager_config()}",
            f"--storage.path={self.workdir / 'alertmanager-data'}",
            f"--data.retention={compose_flag('alertmanager', 'data.retention')}",
            f"--web.listen-address=127.0.0.1:{self.alertmanager_port}",
            "--cluster.listen-address=",
        ]

    # ---------------------------------------------------------------- processes
    def _spawn(self, name: str, command: list[str]) -> None:
        log_path = self.workdir / f"{name}.log"
        self._log_paths[name] = log_path
        with open(log_path, "w") as log:
            self._processes[name] = subprocess.Popen(
                command, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )

    def start(self, timeout: float = 30.0) -> LocalStack:
        missing = missing_binaries(self.with_alertmanager)
        if missing:
            raise FileNotFoundError(
                f"not installed: {', '.join(missing)} (Debian/Ubuntu: apt-get install prometheus "
                "prometheus-alertmanager; or set PROMETHEUS_BIN / ALERTMANAGER_BIN)"
            )
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            if self.with_alertmanager:
                self._spawn("alertmanager", self.alertmanager_command())
            command = [
                find_binary("prometheus"),
                f"--config.file={self.write_prometheus_config()}",
                f"--storage.tsdb.path={self.workdir / 'prometheus-data'}",
                f"--web.listen-address=127.0.0.1:{self.prometheus_port}",
                f"--web.external-url={self.prometheus_url}",
            ]
            if self.alert_resend_delay:
                command.append(f"--rules.alert.resend-delay={self.alert_resend_delay}")
            self._spawn("prometheus", command)
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        urls = {"prometheus": self.prometheus_url}
        if self.alertmanager_url:
            urls["alertmanager"] = self.alertmanager_url
        for name, url in urls.items():
            self.wait_until(lambda name=name, url=url: self._ready(name, url), timeout,
                            what=f"{name} ready at {url}")

    def _ready(self, name: str, url: str) -> bool:
        process = self._processes[name]
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{self.logs()}")
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> None:
        """SIGTERM every process this stack started, SIGKILL after 10 s."""
        for process in self._processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self._processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def running(self) -> bool:
        return bool(self._processes) and all(p.poll() is None for p in self._processes.values())

    def logs(self) -> str:
        return "\n".join(
            f"--- {name} ({path}):\n{path.read_text(errors='replace')[-6000:]}"
            for name, path in self._log_paths.items() if path.exists()
        )

    # ---------------------------------------------------------------- HTTP API helpers
    @staticmethod
    def _get(url: str, params: dict[str, Any] | None = None) -> Any:
        if params:
            url = f"{url}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return json.load(response)
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"GET {url}: HTTP {exc.code}: {exc.read().decode(errors='replace')}") from exc

    def _api(self, path: str, params: dict[str, Any] | None = None) -> Any:
        body = self._get(f"{self.prometheus_url}/api/v1/{path}", params)
        if body.get("status") != "success":
            raise RuntimeError(f"Prometheus /api/v1/{path} {params}: {body}")
        return body["data"]

    def query(self, expr: str, time: float | None = None) -> list:
        """Instant query; the API's ``result`` (for a vector: ``[{"metric": {...}, "value": [t, "v"]}]``)."""
        params = {"query": expr}
        if time is not None:
            params["time"] = time
        return self._api("query", params)["result"]

    def query_value(self, expr: str) -> float | None:
        result = self.query(expr)
        if not result:
            return None
        sample = result[0]["value"] if isinstance(result[0], dict) else result
        return float(sample[1])

    def query_range(self, expr: str, start: float, end: float, step: float | str) -> list:
        return self._api("query_range", {"query": expr, "start": start, "end": end, "step": step})["result"]

    def targets(self) -> list[dict]:
        return self._api("targets")["activeTargets"]

    def wait_for_target(self, job: str, timeout: float = 30.0) -> None:
        self.wait_until(
            lambda: any(t["labels"].get("job") == job and t["health"] == "up" for t in self.targets()),
            timeout, what=f"target {job} up",
        )

    def alerts(self) -> list[dict]:
        return self._api("alerts")["alerts"]

    def alertmanager_alerts(self) -> list[dict]:
        if not self.alertmanager_url:
            raise RuntimeError("this stack runs without Alertmanager")
        return self._get(f"{self.alertmanager_url}/api/v2/alerts")

    def wait_until(self, condition: Callable[[], Any], timeout: float, interval: float = 0.25,
                   what: str = "condition") -> Any:
        """Call ``condition`` until it returns something truthy (returned); TimeoutError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what}: not reached within {timeout} s\n{self.logs()}")
            time.sleep(interval)


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM and SIGHUP stop the stack as Ctrl-C does."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exporter-port", type=int, default=9842, help="where the exporter listens (127.0.0.1)")
    parser.add_argument("--prometheus-port", type=int, default=9090)
    parser.add_argument("--alertmanager-port", type=int, default=9093)
    parser.add_argument("--no-alertmanager", action="store_true", help="run Prometheus alone")
    parser.add_argument("--workdir", help="generated configs, data and logs (default: a new temporary directory)")
    parser.add_argument("--slack-url-file", help="file holding the Slack webhook URL (default: none, no Slack)")
    parser.add_argument("--scrape-interval", help="override the shipped 15s (e.g. 1s)")
    parser.add_argument("--for-cap", help="cap every alert's for: duration (e.g. 10s) to try alerts quickly")
    parser.add_argument("--group-wait", help="override Alertmanager's group_wait")
    parser.add_argument("--group-interval", help="override Alertmanager's group_interval")
    args = parser.parse_args(argv)

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    workdir = args.workdir or tempfile.mkdtemp(prefix="training-local-stack-")
    stack = LocalStack(
        args.exporter_port, workdir, args.prometheus_port, args.alertmanager_port,
        alertmanager=not args.no_alertmanager, slack_url_file=args.slack_url_file,
        scrape_interval=args.scrape_interval, for_cap=args.for_cap,
        group_wait=args.group_wait, group_interval=args.group_interval,
    )
    try:
        with stack:
            print(f"Prometheus:   {stack.prometheus_url} (scraping the exporter at 127.0.0.1:{args.exporter_port})")
            if stack.alertmanager_url:
                print(f"Alertmanager: {stack.alertmanager_url}")
            print(f"configs, data and logs in {stack.workdir}; Ctrl-C stops both", flush=True)
            while stack.running():
                time.sleep(1)
            print(f"a process exited:\n{stack.logs()}", file=sys.stderr)
            return 1
    except KeyboardInterrupt:  # Ctrl-C, SIGTERM or SIGHUP: both stopped on the way out of `with`
        return 0

if __name__ == "__main__":
    raise SystemExit(main())
