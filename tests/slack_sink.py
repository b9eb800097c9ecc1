"""A stand-in Slack webhook on 127.0.0.1: records every POST with its arrival time and answers
each from a script (``200``, ``(429, "2")`` for a 429 with Retry-After 2, ``(404, None)``, or
``"hang"``: read the request and never answer), then ``200 ok`` once the script is used up."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PATH = "/services/T0SINK/B0SINK/sinksecret0123456789"


class SlackSink:
    def __init__(self, *script) -> None:
        self.requests: list[tuple[float, int, dict]] = []  # (arrival, answer status or 0 for none, JSON body)
        self._script = list(script)
        self._lock = threading.Lock()
        self._release = threading.Event()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                with sink._lock:
                    answer = sink._script.pop(0) if sink._script else 200
                    status = 0 if answer == "hang" else answer if isinstance(answer, int) else answer[0]
                    sink.requests.append((time.monotonic(), status, body))
                if answer == "hang":
                    sink._release.wait()
                    return
                self.send_response(status)
                if isinstance(answer, tuple) and answer[1] is not None:
                    self.send_header("Retry-After", answer[1])
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"no_service" if status == 404 else b"slow down")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{PATH}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def accepted(self) -> list[dict]:
        """The bodies answered 200, in order."""
        with self._lock:
            return [body for _, status, body in self.requests if status == 200]

    def titles(self) -> list[str]:
        return [body["attachments"][0]["title"] for body in self.accepted()]

    def wait_for(self, predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate(self):
            assert time.monotonic() < deadline, f"{what}; Slack got {self.titles()}"
            time.sleep(0.05)

    def write_webhook_file(self, path) -> str:
        path.write_text(self.url + "\n")
        path.chmod(0o600)
        return str(path)

    def close(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()
