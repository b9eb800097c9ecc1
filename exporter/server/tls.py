"""The TLS side of the web configuration: an ``ssl.SSLContext`` built from ``tls_server_config``
(certificate and key from files or inline PEM, client certificates as Go's ``client_auth_type``
means them, TLS versions) and the check of a client certificate's allowed names."""

from __future__ import annotations

import os
import ssl
import tempfile
from contextlib import contextmanager
from collections.abc import Iterator

from exporter.errors import UsageError
from exporter.server.web_config import TlsSettings

VERSIONS = {"TLS10": ssl.TLSVersion.TLSv1, "TLS11": ssl.TLSVersion.TLSv1_1, "TLS12": ssl.TLSVersion.TLSv1_2,
            "TLS13": ssl.TLSVersion.TLSv1_3}
# Go's client_auth_type as OpenSSL's verify mode. OpenSSL cannot ask for a certificate without
# verifying it: the two "any certificate" types verify it against client_ca when one is given and
# are refused without one (see web_config.VERIFYING for the types that need it anyway).
VERIFY_MODES = {"NoClientCert": ssl.CERT_NONE, "RequestClientCert": ssl.CERT_OPTIONAL,
                "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL, "RequireAnyClientCert": ssl.CERT_REQUIRED,
                "RequireAndVerifyClientCert": ssl.CERT_REQUIRED}


def context(settings: TlsSettings) -> ssl.SSLContext:
    """The server's TLS context; :class:`UsageError` naming the file when a certificate or key
    cannot be loaded."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = VERSIONS[settings.min_version]
    ctx.maximum_version = VERSIONS[settings.max_version]
    if settings.prefer_server_cipher_suites:
        ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    with _pem_file(settings.cert) as cert_text, _pem_file(settings.key) as key_text:
        cert, key = settings.cert_file or cert_text, settings.key_file or key_text
        try:
            ctx.load_cert_chain(cert, key)
        except (ssl.SSLError, OSError) as exc:
            raise UsageError(f"tls_server_config: cannot use the certificate {_name(settings.cert_file)} with the "
                             f"key {_name(settings.key_file)}: {exc}; give a PEM certificate and its own key") from exc
    ctx.verify_mode = VERIFY_MODES[settings.client_auth_type]
    if ctx.verify_mode != ssl.CERT_NONE:
        if not (settings.client_ca_file or settings.client_ca):
            raise UsageError(f"tls_server_config.client_ca_file: required with client_auth_type "
                             f"{settings.client_auth_type} (OpenSSL verifies every client certificate it asks for)")
        try:
            ctx.load_verify_locations(cafile=settings.client_ca_file, cadata=settings.client_ca)
        except (ssl.SSLError, OSError) as exc:
            raise UsageError(f"tls_server_config: cannot use the client CA {_name(settings.client_ca_file)}: "
                             f"{exc}") from exc
    return ctx


def allowed(settings: TlsSettings, peer: dict | None) -> bool:
    """Whether a client whose certificate is ``peer`` (``getpeercert()``) may go on: with
    ``client_allowed_sans``, one of its subject alternative names must be in the list."""
    if not settings.client_allowed_sans:
        return True
    names = {value for _, value in (peer or {}).get("subjectAltName", ())}
    return bool(names & set(settings.client_allowed_sans))


def _name(path: str | None) -> str:
    return path or "given inline"


@contextmanager
def _pem_file(text: str | None) -> Iterator[str | None]:
    """Inline PEM as a private temporary file (``ssl`` loads chains from files only)."""
    if text is None:
        yield None
        return
    descriptor, path = tempfile.mkstemp(suffix=".pem")
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(text)
        yield path
    finally:
        os.unlink(path)
