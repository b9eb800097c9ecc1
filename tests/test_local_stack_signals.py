"""scripts/local_stack.py run by a person: SIGTERM (``kill``) and SIGHUP (a closed terminal) stop
Prometheus and Alertmanager as Ctrl-C does, so that no process is left holding their ports."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import ROOT
from exporter_process import free_port


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_stops_prometheus_and_alertmanager(tmp_path, local_stack, signum):
    if local_stack.missing_binaries():
        pytest.skip("Prometheus or Alertmanager is not installed")
    ports = free_port(), free_port()
    script = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "local_stack.py"), "--exporter-port", str(free_port()),
         "--prometheus-port", str(ports[0]), "--alertmanager-port", str(ports[1]), "--workdir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        output = ""
        while "Ctrl-C stops both" not in output:  # printed once both answer
            line = script.stdout.readline()
            assert line, f"the stack did not start:\n{output}"
            output += line
        assert all(_listening(port) for port in ports)
        script.send_signal(signum)
        assert script.wait(timeout=30) == 0
        deadline = time.monotonic() + 15
        while any(_listening(port) for port in ports):
            assert time.monotonic() < deadline, "Prometheus or Alertmanager still listens"
            time.sleep(0.1)
    finally:
        if script.poll() is None:
            script.kill()
            script.wait()
