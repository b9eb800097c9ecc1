"""``training-exporter run``: when the trainer has ended but a process it started still holds its
stdout and stderr, the wrapper waits DRAIN_SECONDS for the last output in all, not that long for
each stream."""

import os
import signal
import time

from exporter.commands.run import DRAIN_SECONDS
from test_run_wrapper import _wrapper


def test_a_grandchild_holding_both_pipes_delays_the_end_by_the_drain_time_once(tmp_path):
    process = _wrapper(tmp_path, """
        import pathlib, subprocess, sys
        holder = subprocess.Popen(["sleep", "60"])  # inherits the trainer's stdout and stderr
        pathlib.Path("holder").write_text(str(holder.pid))
        print("ending", flush=True)
    """)
    try:
        assert process.stdout.readline() == b"ending\n"
        ended = time.monotonic()
        process.wait(timeout=4 * DRAIN_SECONDS)
        waited = time.monotonic() - ended
    finally:
        process.kill()
        if (tmp_path / "holder").exists():
            os.kill(int((tmp_path / "holder").read_text()), signal.SIGKILL)
    assert process.returncode == 0, process.stderr.read()
    # once for both streams (it was once for each: twice DRAIN_SECONDS), with room for a loaded machine
    assert DRAIN_SECONDS <= waited + 0.5 and waited < 1.6 * DRAIN_SECONDS
    assert b"still holds its output" in process.stderr.read()
