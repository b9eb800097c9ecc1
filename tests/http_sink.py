"""A stand-in webhook on 127.0.0.1 that speaks raw HTTP, so it can also misbehave: it records every
POST (path, headers, body, arrival time) and answers each from a script, then ``200`` once the
script is used up. Answers: a status (``200``, ``500``), ``(429, "3")`` for a 429 with
Retry-After 3, ``"slow"`` (the status line, then one header byte a second, for as long as the
client listens), ``"cut"`` (``HTTP/1.1 200 OK\\r\\nContent-Le`` and the connection closed)."""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass


@dataclass
class Request:
    at: float  # monotonic
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


def _read_request(conn: socket.socket) -> Request | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    while len(body) < int(headers.get("content-length", 0)):
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return Request(time.monotonic(), lines[0].split(" ")[1], headers, body)


class HttpSink:
    def __init__(self, *script, ok_body: bytes = b"ok") -> None:
        self.requests: list[Request] = []
        self.answered: list[object] = []
        self._script = list(script)
        self._ok_body = ok_body
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def url(self, scheme: str = "json", path: str = "/hook") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self._closed.set()
        self._server.close()

    def _serve(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            request = _read_request(conn)
            if request is None:
                return
            with self._lock:
                answer = self._script.pop(0) if self._script else 200
                self.requests.append(request)
                self.answered.append(answer)
            try:
                self._write(conn, answer)
            except OSError:
                pass  # the client gave up

    def _write(self, conn: socket.socket, answer: object) -> None:
        if answer == "slow":
            conn.sendall(b"HTTP/1.1 200 OK\r\n")
            while not self._closed.wait(1.0):
                conn.sendall(b"X")
            return
        if answer == "cut":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Le")
            return
        status, retry_after = answer if isinstance(answer, tuple) else (answer, None)
        body = self._ok_body if status == 200 else b"no"
        extra = f"Retry-After: {retry_after}\r\n" if retry_after is not None else ""
        conn.sendall(f"HTTP/1.1 {status} X\r\nContent-Type: text/plain\r\n{extra}Content-Length: {len(body)}\r\n"
                     f"Connection: close\r\n\r\n".encode() + body)

    def bodies(self, status: object = 200) -> list[Request]:
        """The requests answered with ``status``."""
        with self._lock:
            return [r for r, a in zip(self.requests, self.answered) if a == status]

    def wait_for(self, count: int, timeout: float, status: object = 200) -> list[Request]:
        deadline = time.monotonic() + timeout
        while len(self.bodies(status)) < count:
            assert time.monotonic() < deadline, f"the sink got {self.answered}, not {count} × {status}"
            time.sleep(0.02)
        return self.bodies(status)
