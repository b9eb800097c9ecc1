"""TLS and basic auth on every route, from the Prometheus exporters' web configuration file: the
running exporter against real clients, the same file given to Debian's node_exporter, a real
Prometheus scraping the secured exporter with the shipped scrape configuration, and the cost of
bcrypt kept off repeated scrapes."""

from __future__ import annotations

import shutil
import socket
import ssl
import statistics
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from conftest import ROOT, write_log
from exporter.commands.cli import main
from exporter_process import ExporterProcess, free_port
from nanogpt_fixture import preamble, progress_lines
from test_prometheus_config import uncommented
from web_certificates import OPENSSL, PASSWORD, USER, make_certificates, web_config

pytestmark = pytest.mark.skipif(OPENSSL is None, reason="the openssl command makes the test certificates")
ROUTES = ("/metrics", "/", "/api/run")


@pytest.fixture(scope="module")
def certificates(tmp_path_factory) -> Path:
    return make_certificates(tmp_path_factory.mktemp("certificates"))


@pytest.fixture
def log(tmp_path) -> Path:
    return write_log(tmp_path / "train.log", preamble() + progress_lines(0, 200))


def _get(url: str, certificates: Path, auth=None, **kwargs) -> requests.Response:
    return requests.get(url, verify=str(certificates / "ca.pem"), auth=auth, timeout=10, **kwargs)


def test_every_route_asks_for_the_password_over_tls(certificates, log):
    config = web_config(certificates)
    with ExporterProcess("--log", str(log), "--run", "secured", "--web-config-file", str(config),
                         ca=certificates / "ca.pem", auth=(USER, PASSWORD)) as exporter:
        exporter.wait_for('training_iteration{run="secured"}')
        base = f"https://127.0.0.1:{exporter.port}"
        for route in ROUTES:
            missing = _get(base + route, certificates)
            wrong = _get(base + route, certificates, auth=(USER, "wrong"))
            right = _get(base + route, certificates, auth=(USER, PASSWORD))
            assert (missing.status_code, wrong.status_code, right.status_code) == (401, 401, 200), route
            assert missing.headers["WWW-Authenticate"].startswith("Basic")
            assert right.headers["X-Frame-Options"] == "deny"
        assert 'training_exporter_http_auth_failures_total 6.0' in exporter.scrape()
        with pytest.raises(requests.ConnectionError):  # plain HTTP to the TLS port: no answer
            requests.get(f"http://127.0.0.1:{exporter.port}/metrics", timeout=5)
        assert PASSWORD not in exporter.output() and "wrong" not in exporter.output()
        assert f"serving 'secured' on node" in exporter.output() and f"https://127.0.0.1:{exporter.port}" in exporter.output()


def test_client_certificates_when_required(certificates, log):
    config = web_config(certificates, users=False, client_auth_type="RequireAndVerifyClientCert",
                        client_ca_file="ca.pem", client_allowed_sans=["scraper"])
    with ExporterProcess("--log", str(log), "--run", "mtls", "--web-config-file", str(config)) as exporter:
        url = f"https://127.0.0.1:{exporter.port}/metrics"
        client = (str(certificates / "client.pem"), str(certificates / "client-key.pem"))
        deadline = time.monotonic() + 20
        while True:
            try:
                answer = _get(url, certificates, cert=client)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, exporter.output()
                time.sleep(0.2)
        assert answer.status_code == 200 and "training_exporter_build_info" in answer.text
        with pytest.raises((requests.ConnectionError, ssl.SSLError)):
            _get(url, certificates)  # no client certificate: the handshake fails


def test_a_name_not_allowed_is_refused(certificates, log):
    config = web_config(certificates, users=False, client_auth_type="RequireAndVerifyClientCert",
                        client_ca_file="ca.pem", client_allowed_sans=["someone-else"])
    with ExporterProcess("--log", str(log), "--run", "sans", "--web-config-file", str(config)) as exporter:
        _wait_listening(exporter.port)
        client = (str(certificates / "client.pem"), str(certificates / "client-key.pem"))
        with pytest.raises(requests.ConnectionError):
            _get(f"https://127.0.0.1:{exporter.port}/metrics", certificates, cert=client)


def _wait_listening(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}")


@pytest.mark.parametrize(("change", "message"), [
    ({"tls_server_config": {"cert_file": "server.pem", "key_file": "server-key.pem", "cipher_suite": "x"}},
     "tls_server_config.cipher_suite: unknown key"),
    ({"tls_server_config": {"cert_file": "server.pem", "key_file": "missing.pem"}},
     "tls_server_config.key_file: cannot read"),
    ({"tls_server_config": {"cert_file": "server.pem", "key_file": "world-readable-key.pem"}},
     "is readable by every user of this machine: chmod o-r"),
    ({"basic_auth_users": {"prometheus": "not-a-hash"}}, "basic_auth_users.prometheus: not a bcrypt hash"),
    ({"tls_server_config": {"cert_file": "server.pem", "key_file": "server-key.pem", "min_version": "TLS14"}},
     "tls_server_config.min_version: 'TLS14' is not one of TLS10, TLS11, TLS12, TLS13"),
    ({"tls_server_config": {"cert_file": "ca.pem", "key_file": "server-key.pem"}},
     "tls_server_config: cannot use the certificate"),
    ({"rate_limit": {"interval": "1s", "burst": 5}}, "rate_limit: no rate limiting here"),
    ({"tls_server_config": {"cert_file": "server.pem", "key_file": "server-key.pem",
                            "client_auth_type": "RequireAndVerifyClientCert"}},
     "client_ca_file: required with client_auth_type RequireAndVerifyClientCert"),
])
def test_a_bad_web_configuration_stops_the_exporter_at_start(certificates, tmp_path, change, message, capsys):
    import yaml

    (tmp_path / "world-readable-key.pem").write_bytes((certificates / "server-key.pem").read_bytes())
    (tmp_path / "world-readable-key.pem").chmod(0o644)
    for name in ("server.pem", "server-key.pem", "ca.pem"):
        shutil.copy(certificates / name, tmp_path / name)
    (tmp_path / "server-key.pem").chmod(0o600)
    config = tmp_path / "web.yml"
    config.write_text(yaml.safe_dump(change))
    assert main(["serve", "--log", str(tmp_path / "train.log"), "--port", str(free_port()),
                 "--web-config-file", str(config)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.mark.skipif(shutil.which("prometheus-node-exporter") is None and shutil.which("node_exporter") is None,
                    reason="Debian's prometheus-node-exporter is not installed (.ci/run installs it)")
def test_node_exporter_takes_the_same_file(certificates):
    config = web_config(certificates, client_auth_type="VerifyClientCertIfGiven", client_ca_file="ca.pem",
                        min_version="TLS12")
    port = free_port()
    binary = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
    process = subprocess.Popen([binary, f"--web.listen-address=127.0.0.1:{port}", f"--web.config.file={config}",
                                "--collector.disable-defaults", "--collector.time"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_listening(port)
        url = f"https://127.0.0.1:{port}/metrics"
        assert _get(url, certificates).status_code == 401
        assert _get(url, certificates, auth=(USER, PASSWORD)).status_code == 200
        assert process.poll() is None
    finally:
        process.terminate()
        process.wait(10)


def test_prometheus_scrapes_the_secured_exporter_with_the_shipped_scrape_config(certificates, log, tmp_path,
                                                                                 local_stack):
    if local_stack.missing_binaries(alertmanager=False):
        pytest.skip(f"not installed: {', '.join(local_stack.missing_binaries(alertmanager=False))}")
    config_dir = tmp_path / "prometheus"
    shutil.copytree(ROOT / "prometheus", config_dir, ignore=shutil.ignore_patterns("tests"))
    (config_dir / "prometheus.yml").write_text(uncommented((ROOT / "prometheus" / "prometheus.yml").read_text(),
                                                           {"secured"}))
    work = tmp_path / "work"
    (work / "secrets" / "exporter").mkdir(parents=True)
    shutil.copy(certificates / "ca.pem", work / "secrets" / "exporter" / "ca.pem")
    (work / "secrets" / "exporter" / "scrape_password").write_text(PASSWORD + "\n")
    web = web_config(certificates)
    with ExporterProcess("--log", str(log), "--run", "scraped", "--web-config-file", str(web),
                         ca=certificates / "ca.pem", auth=(USER, PASSWORD)) as exporter, \
            local_stack.LocalStack(exporter.port, work, alertmanager=False, config_dir=config_dir) as stack:
        stack.wait_until(lambda: stack.query('up{job="training-exporter"} == 1')
                         and stack.query('training_iteration{run="scraped"}'), timeout=60,
                         what="the secured exporter scraped")
        assert "training_exporter_http_auth_failures_total 0.0" in exporter.scrape()


def _p99_of_50_scrapers(url: str, auth, verify, seconds: float = 5.0) -> float:
    latencies: list[float] = []

    def scrape_for() -> None:
        session = requests.Session()
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            started = time.perf_counter()
            answer = session.get(url, auth=auth, verify=verify, timeout=10)
            assert answer.status_code == 200
            latencies.append(time.perf_counter() - started)
            time.sleep(0.2)

    threads = [threading.Thread(target=scrape_for) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 30)
    return statistics.quantiles(latencies, n=100)[98]


def test_bcrypt_stays_off_repeated_scrapes(certificates, log, capsys):
    """50 scrapers for 2 s, three rounds each way taking turns: the best p99 with basic auth within
    2x of the best without (both plain HTTP, so that only the password check differs; each
    exporter has answered one scrape with the password first, as Prometheus's first scrape does)."""
    exporters = {}
    try:
        for users in (False, True):
            config = web_config(certificates, tls=False, users=users, name=f"plain-{users}.yml")
            auth = (USER, PASSWORD) if users else None
            exporters[users] = ExporterProcess("--log", str(log), "--run", "bcrypt", "--web-config-file", str(config),
                                               auth=auth)
            exporters[users].wait_for('training_iteration{run="bcrypt"}')
        rounds = {False: [], True: []}
        for _ in range(3):
            for users, exporter in exporters.items():
                rounds[users].append(_p99_of_50_scrapers(exporter.url, exporter._auth, True, seconds=2.0))
    finally:
        for exporter in exporters.values():
            exporter.stop()
    best = {users: min(figures) for users, figures in rounds.items()}
    with capsys.disabled():
        print(f"\n50 scrapers, 3 rounds of 2 s each way: p99 {best[False] * 1000:.1f} ms without auth, "
              f"{best[True] * 1000:.1f} ms with basic auth (best rounds)")
    assert best[True] < 2 * best[False] + 0.005


def test_a_changed_file_is_loaded_again_and_a_broken_one_keeps_the_previous(certificates, tmp_path):
    import base64

    from exporter.server.security import Security

    for name in ("server.pem", "server-key.pem"):
        shutil.copy(certificates / name, tmp_path / name)
    (tmp_path / "server-key.pem").chmod(0o600)
    now = [0.0]
    path = web_config(tmp_path, tls=False)
    security = Security(str(path), clock=lambda: now[0])

    def allows(password: str) -> bool:
        return security.auth.allows("Basic " + base64.b64encode(f"{USER}:{password}".encode()).decode())

    assert allows(PASSWORD) and not allows("new one")
    import bcrypt
    path.write_text(path.read_text().replace(path.read_text().split(f"{USER}: ")[1].split("\n")[0],
                                             bcrypt.hashpw(b"new one", bcrypt.gensalt(4)).decode()) + "\n")
    security.refresh()  # looked at once a second at most
    assert allows(PASSWORD)
    now[0] += 1.5
    security.refresh()
    assert allows("new one") and not allows(PASSWORD)
    assert security.auth_failures == 2
    path.write_text("basic_auth_users: {prometheus: nonsense}\n")
    now[0] += 1.5
    security.refresh()
    assert allows("new one")
