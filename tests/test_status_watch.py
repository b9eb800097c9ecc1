"""``training-exporter status LOG --watch`` in a pseudo-terminal: the report is redrawn in place as
the log grows, and Ctrl-C ends it with status 0 and no traceback."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from nanogpt_fixture import preamble, progress_lines

from exporter.commands.cli import main
from exporter.commands.status import REDRAW

REPO = Path(__file__).resolve().parent.parent


class Terminal:
    """A process whose stdin, stdout and stderr are a pseudo-terminal; :meth:`read_until` collects its output."""

    def __init__(self, *args: str) -> None:
        self.master, replica = pty.openpty()
        env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen([sys.executable, "-m", "exporter", *args], cwd=REPO, env=env,
                                        stdin=replica, stdout=replica, stderr=replica, start_new_session=True)
        os.close(replica)
        self.output = ""

    def read_until(self, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self.master], [], [], remaining)[0]:
                raise AssertionError(f"{text!r} not shown after {timeout} s:\n{self.output}")
            try:
                self.output += os.read(self.master, 65536).decode(errors="replace")
            except OSError:  # the process closed the terminal
                raise AssertionError(f"{text!r} not shown before the end:\n{self.output}") from None
        return self.output

    def read_to_end(self, timeout: float = 5.0) -> str:
        """Everything printed, once the process has closed the terminal."""
        deadline = time.monotonic() + timeout
        while select.select([self.master], [], [], max(deadline - time.monotonic(), 0))[0]:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO: no process holds the terminal any more
                break
            if not chunk:
                break
            self.output += chunk.decode(errors="replace")
        return self.output

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.close(self.master)


def test_redraws_in_place_as_the_log_grows_and_ctrl_c_exits_0(tmp_path):
    log = tmp_path / "train.log"
    log.write_text("\n".join(preamble() + progress_lines(0, 300)) + "\n")
    terminal = Terminal("status", str(log), "--watch", "--interval", "0.2")
    try:
        terminal.read_until("300 / 20,000 iterations")
        with log.open("a") as growing:
            growing.write("\n".join(progress_lines(301, 700, seed=2)) + "\n")
        output = terminal.read_until("700 / 20,000 iterations")
        frames = output.split(REDRAW)
        assert frames[0] == "" and len(frames) >= 3  # each report drawn from the top of a cleared screen
        assert all(frame.startswith("every 0.2 s, ") for frame in frames[1:])
        assert "300 / 20,000 iterations" in frames[1] and "700 / 20,000 iterations" in frames[-1]
        os.killpg(terminal.process.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends
        assert terminal.process.wait(timeout=10) == 0
        rest = terminal.read_to_end()
        assert "Traceback" not in rest and "KeyboardInterrupt" not in rest
    finally:
        terminal.close()


def test_watch_and_json_together_is_a_usage_error(tmp_path, capsys):
    log = tmp_path / "train.log"
    log.write_text("\n".join(preamble() + progress_lines(0, 30)) + "\n")
    assert main(["status", str(log), "--watch", "--json"]) == 2
    assert "--watch redraws the text report" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_status:
        main(["status", str(log), "--watch", "--interval", "0"])
    assert exit_status.value.code == 2
    assert "--interval: expected seconds between 0.1 and 3600, got '0'" in capsys.readouterr().err
