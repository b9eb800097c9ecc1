"""A stand-in Slack webhook run as a service of the compose stack in tests/test_compose_stack.py
(standard library only: it runs in the exporter's base image). Answers every POST ``ok`` as Slack
does and keeps its JSON body; ``GET /messages`` returns the bodies so far as a JSON list."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = 8080
MESSAGES: list = []
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with LOCK:
            MESSAGES.append({"path": self.path, "json": json.loads(body)})
        self._answer(b"ok", "text/plain")

    def do_GET(self) -> None:  # noqa: N802
        if self.path != "/messages":
            self.send_error(404)
            return
        with LOCK:
            body = json.dumps(MESSAGES).encode()
        self._answer(body, "application/json")

    def _answer(self, body: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("0.0.0.0", PORT), Handler).serve_forever()
