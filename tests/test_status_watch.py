"""``training-exporter status LOG --watch`` in a pseudo-terminal and in tmux: the report is redrawn
in place as the log grows (nothing in the scrollback), fits the terminal's width, names the log it
waits for, and Ctrl-C ends it with status 0 and no traceback; into a pipe, plain text."""

from __future__ import annotations

import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from nanogpt_fixture import preamble, progress_lines

from exporter.commands.cli import main

REPO = Path(__file__).resolve().parent.parent
HOME, ERASE_BELOW = "\x1b[H", "\x1b[J"


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
        terminal.read_until("700 / 20,000 iterations")
        output = terminal.read_until("| 700/20,000")  # the bar, drawn after that line
        frames = output.split(HOME)
        assert frames[0].endswith("\x1b[2J") and "\x1b[2J" not in "".join(frames[1:])  # cleared once at the start, never again
        assert len(frames) >= 3 and all(frame.startswith("every 0.2 s, ") for frame in frames[1:])
        assert all(frame.endswith(ERASE_BELOW) for frame in frames[1:-1])
        assert "300 / 20,000 iterations" in frames[1] and "700 / 20,000 iterations" in frames[-1]
        assert "\x1b[32m" in frames[-1] and "█" in frames[-1]  # the bar, green while running
        os.killpg(terminal.process.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends
        assert terminal.process.wait(timeout=10) == 0
        rest = terminal.read_to_end()
        assert "Traceback" not in rest and "KeyboardInterrupt" not in rest
    finally:
        terminal.close()


def test_watch_into_a_pipe_prints_plain_reports_with_no_escapes(tmp_path):
    log = tmp_path / "train.log"
    log.write_text("\n".join(preamble() + progress_lines(0, 300)) + "\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, "-m", "exporter", "status", str(log), "--watch", "--interval", "0.2"],
                               cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        first = [process.stdout.readline() for _ in range(8)]
    finally:
        process.send_signal(signal.SIGINT)
        rest = process.communicate(timeout=10)[0]
    assert process.returncode == 0
    text = "".join(first) + rest
    assert "\x1b" not in text and "300 / 20,000 iterations" in text and "Traceback" not in text


needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed (.ci/run installs it)")


class Tmux:
    """A tmux server of its own (``-L``) with one window of ``width``×``height`` running a command."""

    def __init__(self, tmp_path: Path, width: int, height: int, *command: str) -> None:
        self.socket = f"te-{os.getpid()}-{time.monotonic_ns()}"
        env = f"-u COLUMNS -u LINES PYTHONPATH={REPO}"
        self.tmux("new-session", "-d", "-x", str(width), "-y", str(height), "-s", "t",
                  f"cd {REPO} && env {env} {sys.executable} -m exporter {' '.join(command)}; "
                  f"echo exit=$?; sleep 60")

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args], check=True,
                              capture_output=True, text=True, timeout=20).stdout

    def screen(self) -> str:
        """The screen's lines, a line the terminal wrapped joined again (-J): its real length."""
        return self.tmux("capture-pane", "-p", "-J", "-t", "t")

    def history_lines(self) -> int:
        return int(self.tmux("display-message", "-p", "-t", "t", "#{history_size}").strip())

    def wait_for(self, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} not on the screen after {timeout} s:\n{self.screen()}")

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=20)


def _wait_for_redraws(output: Path, redraws: int) -> None:
    """Wait until the output tmux piped to ``output`` holds ``redraws`` redraws (cursor home each)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if output.exists() and output.read_bytes().count(HOME.encode()) >= redraws:
            return
        time.sleep(0.1)
    raise AssertionError(f"fewer than {redraws} redraws in 60 s")


@needs_tmux
@pytest.mark.parametrize(("width", "height"), [(80, 24), (120, 40)])
def test_in_tmux_redraws_leave_no_scrollback_fit_the_width_and_ctrl_c_exits_0(tmp_path, width, height):
    log = tmp_path / "train.log"
    log.write_text("\n".join(preamble() + progress_lines(0, 1300)) + "\n")
    tmux = Tmux(tmp_path, width, height, "status", str(log), "--watch", "--interval", "0.1")
    try:
        screen = tmux.wait_for("1,300 / 20,000 iterations")
        piped = tmp_path / "piped"
        tmux.tmux("pipe-pane", "-t", "t", "-o", f"cat >> {piped}")
        assert tmux.history_lines() == 0
        _wait_for_redraws(piped, 30)
        assert tmux.history_lines() == 0  # 30 redraws later, still nothing in the scrollback
        screen = tmux.screen()
        lines = screen.rstrip("\n").splitlines()
        assert all(len(line) <= width for line in lines)
        assert not any(line.startswith(" ") and not line.startswith("  ") for line in lines)
        for word in ("iterations", "expected to finish at", "typical iteration"):
            assert word in screen  # whole words: wrapped at spaces, never mid-word
        bar = next(line for line in lines if "█" in line)
        assert len(bar) == min(width, 100) and bar.endswith("1,300/20,000")
        tmux.tmux("send-keys", "-t", "t", "C-c")
        screen = tmux.wait_for("exit=")
        assert "exit=0" in screen and "Traceback" not in screen
    finally:
        tmux.close()


@needs_tmux
def test_in_tmux_a_missing_log_is_waited_for_by_name(tmp_path):
    log = tmp_path / "later" / "train.log"
    tmux = Tmux(tmp_path, 80, 24, "status", str(log), "--watch", "--interval", "0.2")
    try:
        screen = tmux.wait_for("waiting")
        assert f"why: waiting for the log {log}" in screen.replace("\n  ", " ") or str(log.name) in screen
        log.parent.mkdir()
        log.write_text("\n".join(preamble() + progress_lines(0, 300)) + "\n")
        tmux.wait_for("300 / 20,000 iterations")
    finally:
        tmux.close()


def test_watch_and_json_together_is_a_usage_error(tmp_path, capsys):
    log = tmp_path / "train.log"
    log.write_text("\n".join(preamble() + progress_lines(0, 30)) + "\n")
    assert main(["status", str(log), "--watch", "--json"]) == 2
    assert "--watch redraws the text report" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_status:
        main(["status", str(log), "--watch", "--interval", "0"])
    assert exit_status.value.code == 2
    assert "--interval: expected seconds between 0.1 and 3600, got '0'" in capsys.readouterr().err
