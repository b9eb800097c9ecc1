"""Listen addresses: whether one can be listened on (checked with the configuration, before
anything starts) and how it reads in a URL (an IPv6 address in brackets)."""

from __future__ import annotations

import ipaddress
import socket


def listen_problem(address: str) -> str | None:
    """Why ``address`` cannot be a listen address (not an IP address nor a name this machine
    resolves), or None."""
    if address == "":
        return None  # every interface, as for 0.0.0.0
    try:
        ipaddress.ip_address(address)
        return None
    except ValueError:
        pass
    try:
        socket.getaddrinfo(address, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return (f"{address!r} is neither an IP address nor a host name this machine resolves; use 127.0.0.1 "
                "(this machine only), 0.0.0.0 (every interface), ::1 or an address of one of its interfaces")
    return None


def url(host: str, port: int, path: str = "/", scheme: str = "http") -> str:
    """``http://host:port/path``, with an IPv6 address in brackets."""
    return f"{scheme}://[{host}]:{port}{path}" if ":" in host else f"{scheme}://{host}:{port}{path}"
