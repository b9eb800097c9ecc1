"""``training-exporter run -- COMMAND``: the trainer's exit status, signals and output bytes pass
through the wrapper unchanged, the output is appended to the log, and /metrics is served until a
grace period after the trainer ends, showing how it ended. Real processes, loopback only."""

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest
import requests

from exporter_process import REPO, free_port
from nanogpt_fixture import preamble, progress_lines

TIMEOUT = 15  # seconds any one wrapper may take


def _wrapper(tmp_path, code, *flags, grace="0", port=None):
    """``python -m exporter run … -- python -c CODE`` in ``tmp_path``, its output piped."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("PYTHONUNBUFFERED", None)  # the wrapper must set it for the trainer itself
    return subprocess.Popen(
        [sys.executable, "-m", "exporter", "run", "--port", str(port or free_port()), "--grace-seconds", grace,
         "--poll-interval-seconds", "0.1", *flags, "--", sys.executable, "-c", textwrap.dedent(code)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def _finish(process):
    out, err = process.communicate(timeout=TIMEOUT)
    return process.returncode, out, err


@pytest.mark.parametrize(("code", "status"), [
    ("import sys; sys.exit(0)", 0),
    ("import sys; sys.exit(1)", 1),
    ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", 128 + signal.SIGKILL),
])
def test_the_trainers_exit_status_is_the_wrappers(tmp_path, code, status):
    returncode, _, err = _finish(_wrapper(tmp_path, code))
    assert returncode == status, err
    assert (tmp_path / "train.log").exists()  # the default log: train.log in the working directory


def test_sigterm_reaches_the_trainer(tmp_path):
    process = _wrapper(tmp_path, """
        import pathlib, signal, sys, time
        def stop(*_):
            pathlib.Path("stopped").write_text("SIGTERM")
            sys.exit(0)
        signal.signal(signal.SIGTERM, stop)
        pathlib.Path("ready").write_text("")
        time.sleep(30)
        sys.exit(5)
    """)
    deadline = time.monotonic() + TIMEOUT
    while not (tmp_path / "ready").exists():
        assert time.monotonic() < deadline and process.poll() is None, "the trainer never started"
        time.sleep(0.02)
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    returncode, _, err = _finish(process)
    assert returncode == 0, err
    assert (tmp_path / "stopped").read_text() == "SIGTERM"
    assert time.monotonic() - started < 5


PROGRESS = [b"loading\n", b"  0%|          | 0/3\r", b" 33%|###       | 1/3\r", b"100%|##########| 3/3\n",
            b"\xe2\x9c\x93 done \xff\n", b"no newline at the end"]


def test_output_passes_through_byte_for_byte_and_is_appended_to_the_log(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "train.log").write_bytes(b"an earlier run\n")
    returncode, out, err = _finish(_wrapper(tmp_path, f"""
        import os, sys, time
        assert os.environ["PYTHONUNBUFFERED"] == "1"
        sys.stderr.buffer.write(b"a warning\\n")
        time.sleep(0.2)
        for chunk in {PROGRESS!r}:
            sys.stdout.buffer.write(chunk)
            time.sleep(0.02)  # no flush: PYTHONUNBUFFERED=1 makes each write reach the pipe
    """, "--log", "out/train.log"))
    assert returncode == 0, err
    assert out == b"".join(PROGRESS)
    assert b"a warning\n" in err
    assert (tmp_path / "out" / "train.log").read_bytes() == b"an earlier run\n" + b"a warning\n" + out


def test_metrics_are_served_through_the_grace_period_and_show_the_run_finished(tmp_path):
    config = "eval_interval = 50\neval_iters = 20\nlog_interval = 10\nmax_iters = 100\n"
    lines = preamble(config) + progress_lines(0, 100, log_interval=10, eval_interval=50, checkpoint=False)
    port = free_port()
    process = _wrapper(tmp_path, f"""
        import time
        for line in {lines!r}:
            print(line)
            time.sleep(0.005)
    """, "--run", "w", grace="3", port=port)
    text = _metrics_until(port, process, 'training_state{run="w",state="finished"} 1.0')
    assert 'training_iteration{run="w"} 100.0' in text
    assert 'kind="process_gone"' not in text
    assert process.poll() is None  # still serving, in the grace period
    returncode, _, err = _finish(process)
    assert returncode == 0, err
    assert b"the trainer's process" in err  # its end was seen through its PID
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5)


def _metrics_until(port, process, wanted):
    deadline, text = time.monotonic() + TIMEOUT, ""
    while wanted not in text:
        assert time.monotonic() < deadline and process.poll() is None, f"{wanted} never came:\n{text}"
        try:
            text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    return text


def test_ctrl_c_is_an_interrupted_run_not_a_crash(tmp_path):
    config = "eval_interval = 5000\neval_iters = 20\nlog_interval = 10\nmax_iters = 5000\n"
    lines = preamble(config) + progress_lines(0, 200, log_interval=10, eval_interval=5000, checkpoint=False)
    port = free_port()
    process = _wrapper(tmp_path, f"""
        import time
        for line in {lines!r}:
            print(line)
        time.sleep(60)  # Ctrl-C raises KeyboardInterrupt here: a traceback in the log
    """, "--run", "w", grace="3", port=port)
    _metrics_until(port, process, 'training_iteration{run="w"} 200.0')
    process.send_signal(signal.SIGINT)
    text = _metrics_until(port, process, 'training_state{run="w",state="interrupted"} 1.0')
    assert 'training_state{run="w",state="crashed"} 0.0' in text
    assert 'kind="process_gone"' not in text
    returncode, _, err = _finish(process)
    assert returncode == 128 + signal.SIGINT and b"KeyboardInterrupt" in err  # as a shell reports Ctrl-C


@pytest.mark.parametrize(("command", "message"), [
    (["no-such-trainer-program", "train.py"], b"cannot start 'no-such-trainer-program'"),
    ([], b"no trainer command"),
])
def test_a_trainer_that_cannot_start_is_a_usage_error(tmp_path, command, message):
    process = subprocess.run(
        [sys.executable, "-m", "exporter", "run", "--port", str(free_port()), "--", *command],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, timeout=TIMEOUT,
    )
    assert process.returncode == 2
    assert message in process.stderr
    assert b"Traceback" not in process.stderr


def _run_with_port_taken(tmp_path, *flags):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        return subprocess.run(
            [sys.executable, "-m", "exporter", "run", "--port", str(taken.getsockname()[1]), *flags,
             "--", sys.executable, "-c", "import pathlib; pathlib.Path('started').write_text('')"],
            cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, timeout=TIMEOUT)


@pytest.mark.parametrize("flags", [(), ("--grace-seconds", "5"), ("--log", "a.log")])
def test_a_port_in_use_stops_the_command_before_the_trainer_starts(tmp_path, flags):
    process = _run_with_port_taken(tmp_path, *flags)
    assert process.returncode == 2
    assert process.stderr.decode().endswith("Address already in use; pass another --port or --listen-address\n")
    assert process.stderr.count(b"\n") == 1 and b"serving" not in process.stderr  # one message, no claim to serve
    assert not (tmp_path / "started").exists()  # the trainer never started
    assert not (tmp_path / "a.log").exists()


def test_an_address_that_is_none_stops_the_command_before_the_trainer_starts(tmp_path):
    process = subprocess.run(
        [sys.executable, "-m", "exporter", "run", "--listen-address", "notanaddress", "--port", str(free_port()),
         "--", sys.executable, "-c", "import pathlib; pathlib.Path('started').write_text('')"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, timeout=60)
    assert process.returncode == 2
    assert b"listen_address: 'notanaddress' is neither an IP address nor a host name" in process.stderr
    assert b"Traceback" not in process.stderr
    assert not (tmp_path / "started").exists()


LOOPING_PREAMBLE = preamble("eval_interval = 5000\neval_iters = 20\nlog_interval = 10\nmax_iters = 5000\n")
LOOPING_TRAINER = f"""
    import time
    for line in {LOOPING_PREAMBLE!r}:
        print(line)
    for i in range(0, 5000, 10):
        print(f"iter {{i}}: loss 3.0000, time 40.00ms, mfu 30.00%")
        time.sleep(0.05)
"""


def _iteration(port):
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return float(text.split('training_iteration{run="w"} ')[1].split()[0])


def test_ctrl_c_never_shows_crashed_on_the_way_to_interrupted(tmp_path):
    port = free_port()
    process = _wrapper(tmp_path, LOOPING_TRAINER, "--run", "w", grace="3", port=port)
    _metrics_until(port, process, 'training_state{run="w",state="running"} 1.0')
    process.send_signal(signal.SIGINT)
    states = []
    while 'training_state{run="w",state="interrupted"} 1.0' not in (states or [""])[-1]:
        assert process.poll() is None, "the wrapper ended before the run read interrupted"
        states.append(requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text)
    assert not any('training_state{run="w",state="crashed"} 1.0' in text for text in states)
    assert 'training_errors_total{kind="traceback",run="w"} 0.0' in states[-1]  # Ctrl-C's traceback is no error
    assert _finish(process)[0] == 128 + signal.SIGINT


def test_a_sigint_the_trainer_ignores_changes_nothing_and_a_later_kill_is_a_crash(tmp_path):
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(  # as `nohup` or a shell's `&` starts it: SIGINT ignored, inherited by the trainer
        ["bash", "-c", 'trap "" INT; exec "$@"', "bash", sys.executable, "-m", "exporter", "run", "--port", str(port),
         "--grace-seconds", "3", "--poll-interval-seconds", "0.1", "--run", "w", "--",
         sys.executable, "-c", textwrap.dedent(LOOPING_TRAINER)],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _metrics_until(port, process, 'training_state{run="w",state="running"} 1.0')
    process.send_signal(signal.SIGINT)
    interrupted_at = _iteration(port)
    deadline = time.monotonic() + TIMEOUT
    while _iteration(port) < interrupted_at + 200:  # training goes on
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.1)
    assert 'training_state{run="w",state="running"} 1.0' in requests.get(f"http://127.0.0.1:{port}/metrics").text
    trainer = int(subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True).stdout.split()[0])
    os.kill(trainer, signal.SIGKILL)
    text = _metrics_until(port, process, 'training_state{run="w",state="crashed"} 1.0')
    assert 'training_errors_total{kind="killed",run="w"} 1.0' in text
    assert _finish(process)[0] == 128 + signal.SIGKILL
