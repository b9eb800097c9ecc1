"""A private CA, a server certificate for 127.0.0.1 and a client certificate, made with the
``openssl`` command for the tests of the secured endpoint; and a web configuration file."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import bcrypt
import yaml

OPENSSL = shutil.which("openssl")
USER, PASSWORD = "prometheus", "correct horse"


def _openssl(*args: str | Path, cwd: Path) -> None:
    subprocess.run([OPENSSL, *map(str, args)], cwd=cwd, check=True, capture_output=True, timeout=60)


def _signed(name: str, subject: str, extensions: str, directory: Path) -> None:
    """``name``.pem and ``name``-key.pem, signed by the CA in ``directory``."""
    (directory / f"{name}.ext").write_text(extensions)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}-key.pem", "-out", f"{name}.csr",
             "-subj", subject, cwd=directory)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
             "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext", cwd=directory)
    (directory / f"{name}-key.pem").chmod(0o600)


def make_certificates(directory: Path) -> Path:
    """ca.pem, server.pem (127.0.0.1, localhost) and client.pem (SAN DNS:scraper) with their keys."""
    directory.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca.pem", "-days", "2",
             "-subj", "/CN=training-exporter test CA", cwd=directory)
    _signed("server", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1,DNS:localhost\n", directory)
    _signed("client", "/CN=scraper", "subjectAltName=DNS:scraper\nextendedKeyUsage=clientAuth\n", directory)
    return directory


def web_config(directory: Path, *, tls: bool = True, users: bool = True, name: str = "web-config.yml",
               **tls_extra: object) -> Path:
    """A web configuration file in ``directory`` (next to the certificates, which it names relatively)."""
    config: dict = {}
    if tls:
        config["tls_server_config"] = {"cert_file": "server.pem", "key_file": "server-key.pem", **tls_extra}
    if users:
        config["basic_auth_users"] = {USER: bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(10)).decode()}
    config["http_server_config"] = {"headers": {"X-Frame-Options": "deny"}}
    path = directory / name
    path.write_text(yaml.safe_dump(config))
    return path
