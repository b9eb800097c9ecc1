"""The Prometheus exporters' web configuration file (exporter-toolkit's ``--web.config.file``):
TLS (``tls_server_config``), response headers (``http_server_config.headers``) and basic auth with
bcrypt hashes (``basic_auth_users``), with the same keys and meaning, so one file serves
node_exporter and this exporter. Every problem is reported at once, naming its key; a key this
exporter cannot honour is refused rather than ignored."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import bcrypt

from exporter.errors import UsageError
from exporter.yaml_file import read_yaml

CLIENT_AUTH_TYPES = ("NoClientCert", "RequestClientCert", "RequireAnyClientCert", "VerifyClientCertIfGiven",
                     "RequireAndVerifyClientCert")
VERIFYING = ("VerifyClientCertIfGiven", "RequireAndVerifyClientCert")
TLS_VERSIONS = ("TLS10", "TLS11", "TLS12", "TLS13")
HEADERS = ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "X-XSS-Protection",
           "Strict-Transport-Security")
HEADER_VALUES = {"X-Frame-Options": ("deny", "sameorigin"), "X-Content-Type-Options": ("nosniff",)}
TLS_KEYS = ("cert", "key", "client_ca", "cert_file", "key_file", "client_auth_type", "client_ca_file",
            "client_allowed_sans", "min_version", "max_version", "prefer_server_cipher_suites")
# keys of the format whose effect this exporter cannot give: refused, never silently ignored
NOT_HONOURED = {"tls_server_config.cipher_suites": "Python's ssl takes OpenSSL's cipher names, not Go's",
                "tls_server_config.curve_preferences": "Python's ssl sets one curve, not a preference list",
                "rate_limit": "no rate limiting here"}
BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")


class WebConfigError(UsageError):
    def __init__(self, path: str, problems: list[str]) -> None:
        super().__init__(f"invalid web configuration in {path}:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class TlsSettings:
    cert_file: str | None = None
    key_file: str | None = None
    cert: str | None = None  # PEM inline, instead of cert_file
    key: str | None = None
    client_auth_type: str = "NoClientCert"
    client_ca_file: str | None = None
    client_ca: str | None = None
    client_allowed_sans: tuple[str, ...] = ()
    min_version: str = "TLS12"
    max_version: str = "TLS13"
    prefer_server_cipher_suites: bool = True


@dataclass(frozen=True)
class WebConfig:
    tls: TlsSettings | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    users: Mapping[str, bytes] = field(default_factory=dict)  # user name -> bcrypt hash


def load(path: str) -> WebConfig:
    """Read and check the file at ``path``; :class:`WebConfigError` lists every problem."""
    try:
        values = read_yaml(path)
    except ValueError as exc:
        raise WebConfigError(path, [str(exc)]) from exc
    if values is None:
        return WebConfig()
    if not isinstance(values, dict):
        raise WebConfigError(path, ["the top level must be a mapping of key: value"])
    problems: list[str] = []
    config = _read(values, os.path.dirname(os.path.abspath(path)), problems)
    if problems:
        raise WebConfigError(path, problems)
    return config


def _read(values: dict[str, Any], base: str, problems: list[str]) -> WebConfig:
    problems += [f"{key}: {NOT_HONOURED.get(key, 'unknown key')}" for key in values
                 if key not in ("tls_server_config", "http_server_config", "basic_auth_users")]
    tls = _tls(values["tls_server_config"], base, problems) if values.get("tls_server_config") else None
    headers = _headers(values.get("http_server_config") or {}, problems)
    users = _users(values.get("basic_auth_users") or {}, problems)
    return WebConfig(tls, headers, users)


def _section(values: Any, name: str, known: tuple[str, ...], problems: list[str]) -> dict[str, Any]:
    if not isinstance(values, dict):
        problems.append(f"{name}: expected a mapping")
        return {}
    problems += [f"{name}.{key}: {NOT_HONOURED.get(f'{name}.{key}', 'unknown key')}" for key in values
                 if key not in known]
    return {key: value for key, value in values.items() if key in known}


def _tls(values: Any, base: str, problems: list[str]) -> TlsSettings:
    found = _section(values, "tls_server_config", TLS_KEYS, problems)
    where = "tls_server_config."
    texts = {key: found[key] for key in ("cert", "key", "client_ca", "cert_file", "key_file", "client_ca_file")
             if found.get(key) is not None}
    problems += [f"{where}{key}: expected text" for key, value in texts.items() if not isinstance(value, str)]
    files = {key: os.path.join(base, value) for key, value in texts.items()
             if key.endswith("_file") and isinstance(value, str)}
    for key, inline in (("cert_file", "cert"), ("key_file", "key"), ("client_ca_file", "client_ca")):
        if key in files and inline in texts:
            problems.append(f"{where}{inline}: give {inline} or {key}, not both")
    if not (texts.keys() & {"cert", "cert_file"}) or not (texts.keys() & {"key", "key_file"}):
        problems.append(f"{where}cert_file and key_file: both are required for TLS")
    problems += [f"{where}{key}: {problem}" for key, path in files.items() if (problem := _file_problem(key, path))]
    settings = TlsSettings(**{k: v for k, v in texts.items() if isinstance(v, str) and not k.endswith("_file")},
                           **files, **_tls_choices(found, problems))
    if settings.client_auth_type in VERIFYING and not (settings.client_ca_file or settings.client_ca):
        problems.append(f"{where}client_ca_file: required with client_auth_type {settings.client_auth_type}")
    return settings


def _tls_choices(found: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    """client_auth_type, the TLS versions, allowed SANs and cipher preference, checked."""
    where, chosen = "tls_server_config.", {}
    for key, allowed in (("client_auth_type", CLIENT_AUTH_TYPES), ("min_version", TLS_VERSIONS),
                         ("max_version", TLS_VERSIONS)):
        if key in found and found[key] not in allowed:
            problems.append(f"{where}{key}: {found[key]!r} is not one of {', '.join(allowed)}")
        elif key in found:
            chosen[key] = found[key]
    if TLS_VERSIONS.index(chosen.get("min_version", "TLS12")) > TLS_VERSIONS.index(chosen.get("max_version", "TLS13")):
        problems.append(f"{where}min_version: above max_version")
    sans = found.get("client_allowed_sans") or []
    if not isinstance(sans, list) or not all(isinstance(name, str) for name in sans):
        problems.append(f"{where}client_allowed_sans: expected a list of names")
    elif sans and chosen.get("client_auth_type") not in ("RequireAnyClientCert", "RequireAndVerifyClientCert"):
        problems.append(f"{where}client_allowed_sans: needs client_auth_type RequireAndVerifyClientCert")
    else:
        chosen["client_allowed_sans"] = tuple(sans)
    if "prefer_server_cipher_suites" in found:
        if isinstance(found["prefer_server_cipher_suites"], bool):
            chosen["prefer_server_cipher_suites"] = found["prefer_server_cipher_suites"]
        else:
            problems.append(f"{where}prefer_server_cipher_suites: expected true or false")
    return chosen


def _file_problem(key: str, path: str) -> str | None:
    try:
        mode = os.stat(path).st_mode
        with open(path, "rb"):
            pass
    except OSError as exc:
        return f"cannot read {path}: {exc.strerror or exc}"
    if key == "key_file" and mode & stat.S_IROTH:
        return f"{path} is readable by every user of this machine: chmod o-r {path} (or 600)"
    return None


def _headers(values: Any, problems: list[str]) -> dict[str, str]:
    found = _section(values, "http_server_config", ("headers", "http2"), problems)
    if "http2" in found and not isinstance(found["http2"], bool):
        problems.append("http_server_config.http2: expected true or false")
    headers = found.get("headers") or {}
    if not isinstance(headers, dict):
        problems.append("http_server_config.headers: expected a mapping of header: value")
        return {}
    chosen = {}
    for name, value in headers.items():
        where = f"http_server_config.headers.{name}"
        if name not in HEADERS:
            problems.append(f"{where}: not one of {', '.join(HEADERS)}")
        elif not isinstance(value, str) or any(c in value for c in "\r\n"):
            problems.append(f"{where}: expected one line of text")
        elif name in HEADER_VALUES and value.lower() not in HEADER_VALUES[name]:
            problems.append(f"{where}: {value!r} is not one of {', '.join(HEADER_VALUES[name])}")
        elif value:
            chosen[name] = value
    return chosen


def _users(values: Any, problems: list[str]) -> dict[str, bytes]:
    if not isinstance(values, dict):
        problems.append("basic_auth_users: expected a mapping of user: bcrypt hash")
        return {}
    users = {}
    for name, hashed in values.items():
        if not isinstance(name, str) or not name or ":" in name:
            problems.append(f"basic_auth_users: {name!r} is not a user name (text without ':')")
        elif not isinstance(hashed, str) or not hashed.startswith(BCRYPT_PREFIXES) or len(hashed) != 60:
            problems.append(f"basic_auth_users.{name}: not a bcrypt hash (make one with "
                            "htpasswd -nBC 10 \"\" | tr -d ':\\n')")
        elif not _readable_hash(hashed):
            problems.append(f"basic_auth_users.{name}: bcrypt cannot read this hash; make it again with "
                            "htpasswd -nBC 10 \"\" | tr -d ':\\n'")
        else:
            users[name] = hashed.encode("ascii")
    return users


def _readable_hash(hashed: str) -> bool:
    """Whether bcrypt can check a password against ``hashed`` (one check, at load)."""
    try:
        bcrypt.checkpw(b"", hashed.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return False
    return True
