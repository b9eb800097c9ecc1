"""Starting the real exporter as a process on a free loopback port, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ExporterProcess:
    """``python -m exporter serve`` with the given flags; ``scrape()`` returns /metrics text."""

    def __init__(self, *flags: str, port: int | None = None, import_first: Path | None = None,
                 ca: Path | None = None, auth: tuple[str, str] | None = None) -> None:
        """``import_first``: a directory searched before everything else for modules (a stand-in
        ``pynvml`` for the NVML boundary); ``ca``: scrape over HTTPS, trusting this CA;
        ``auth``: the user and password of each scrape."""
        self.port = port or free_port()
        self.url = f"{'https' if ca else 'http'}://127.0.0.1:{self.port}/metrics"
        self._verify, self._auth = (str(ca) if ca else True), auth
        path = [str(import_first)] if import_first else []
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([*path, str(REPO)]), "PYTHONUNBUFFERED": "1"}
        self._output = tempfile.TemporaryFile(mode="w+")  # a file, so a chatty exporter never blocks
        self.process = subprocess.Popen(
            [sys.executable, "-m", "exporter", "serve", "--port", str(self.port), "--poll-interval-seconds", "0.1",
             *flags],
            cwd=REPO, env=env, stdout=self._output, stderr=subprocess.STDOUT, text=True,
        )

    def output(self) -> str:
        """Everything the process printed so far."""
        self._output.seek(0)
        return self._output.read()

    def scrape(self) -> str:
        return requests.get(self.url, timeout=5, verify=self._verify, auth=self._auth).text

    def wait_for(self, text: str, timeout: float = 20.0) -> str:
        """Scrape until ``text`` shows up in the exposition."""
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"exporter exited with {self.process.returncode}: {self.output()}")
            try:
                last = self.scrape()
                if text in last:
                    return last
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{text!r} not in /metrics after {timeout} s:\n{last}")

    def stop(self) -> tuple[int, str]:
        """SIGTERM, then the exit code and everything the process printed."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode, self.output()

    def __enter__(self) -> ExporterProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
