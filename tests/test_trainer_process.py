"""The trainer's process, when known (--trainer-pid), ends the run: a clean exit between two log
lines is a finish within seconds, a kill short of max_iters a crash within seconds (not 16 minutes
of silence later), and energy stops counting with it."""

import re
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from exporter.trainer.process import TrainerProcess
from exporter_process import ExporterProcess
from nanogpt_fixture import preamble

TRAINER = textwrap.dedent("""
    import sys, time
    log, last, then = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    with open(log, "a") as f:
        for i in range(0, last + 1, 5):
            f.write(f"iter {i}: loss 3.0, time 20.00ms, mfu 30.00%\\n")
            f.flush()
            time.sleep(0.005)
    if then == "hang":
        time.sleep(600)
""")


def _run(tmp_path, max_iters, last, then):
    log = tmp_path / "train.log"
    config = f"eval_interval = 100000\\neval_iters = 20\\nlog_interval = 5\\nmax_iters = {max_iters}\\n"
    log.write_text("\n".join(preamble(config.replace("\\n", "\n"))) + "\n")
    trainer = subprocess.Popen([sys.executable, "-c", TRAINER, str(log), str(last), then])
    exporter = ExporterProcess("--log", str(log), "--run", "p", "--trainer-pid", str(trainer.pid),
                               "--other-watts", "1000", "--gpu-sample-interval-seconds", "0.1")
    return log, trainer, exporter


def _energy(text):
    return float(re.search(r'^training_energy_joules_total\{node="[^"]+",run="p"\} (\S+)$', text, re.MULTILINE)[1])


def test_a_clean_exit_between_two_log_lines_is_a_finish_within_seconds(tmp_path):
    _, trainer, exporter = _run(tmp_path, 1003, 1000, "exit")
    with exporter:
        exporter.wait_for('training_iteration{run="p"} 1000.0')
        trainer.wait(timeout=10)
        ended = time.monotonic()
        exporter.wait_for('training_state{run="p",state="finished"} 1.0', timeout=5)
        assert time.monotonic() - ended < 5
        text = exporter.scrape()
        assert 'kind="process_gone"' not in text
        first = _energy(text)
        time.sleep(1.0)
        assert _energy(exporter.scrape()) == first  # a finished run counts no more energy


def test_a_killed_trainer_is_a_crash_within_seconds(tmp_path):
    _, trainer, exporter = _run(tmp_path, 5000, 400, "hang")
    with exporter:
        exporter.wait_for('training_iteration{run="p"} 400.0')
        exporter.wait_for('training_state{run="p",state="running"} 1.0')
        trainer.send_signal(signal.SIGKILL)
        trainer.wait(timeout=10)
        killed = time.monotonic()
        text = exporter.wait_for('training_state{run="p",state="crashed"} 1.0', timeout=5)
        assert time.monotonic() - killed < 5
        assert 'training_errors_total{kind="process_gone",run="p"} 1.0' in text
        first = _energy(text)
        time.sleep(1.0)
        assert _energy(exporter.scrape()) == first  # nor does a crashed one
    assert "the trainer's process" in exporter.output()


def test_a_pid_that_never_ran_is_ignored_with_a_warning(tmp_path):
    log = tmp_path / "train.log"
    log.write_text("\n".join(preamble()) + "\niter 0: loss 3.0, time 20.00ms, mfu 30.00%\n")
    with ExporterProcess("--log", str(log), "--run", "p", "--trainer-pid", "2147483000") as exporter:
        exporter.wait_for('training_iteration{run="p"} 0.0')
        assert 'state="crashed"} 1.0' not in exporter.scrape()
    assert "no process with PID 2147483000" in exporter.output()


def test_a_zombie_or_a_reused_pid_is_not_the_trainer(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    watched = TrainerProcess(child.pid)
    time.sleep(0.5)  # exited, not yet reaped: a zombie
    assert not watched.alive()
    child.wait()
    stat = tmp_path / "42" / "stat"
    stat.parent.mkdir()
    stat.write_text("42 (python3) S " + " ".join(["0"] * 18) + " 1000 0 0\n")
    reused = TrainerProcess(42, proc_root=str(tmp_path))
    assert reused.alive() and reused.seen
    stat.write_text("42 (python3) S " + " ".join(["0"] * 18) + " 2000 0 0\n")  # another start time
    assert not reused.alive()


def _status(tmp_path, pid, ignored_mask):
    status = tmp_path / str(pid) / "status"
    status.parent.mkdir(exist_ok=True)
    status.write_text(f"Name:\tpython3\nSigBlk:\t0000000000000000\nSigIgn:\t{ignored_mask:016x}\n"
                      "SigCgt:\t0000000180004002\n")
    return TrainerProcess(pid, proc_root=str(tmp_path))


def test_which_signals_the_trainer_ignores_is_read_from_its_status(tmp_path):
    nohup = _status(tmp_path, 7, 1 << (signal.SIGHUP - 1) | 1 << (signal.SIGINT - 1))
    assert nohup.ignores(signal.SIGINT) and nohup.ignores(signal.SIGHUP) and not nohup.ignores(signal.SIGTERM)
    assert not _status(tmp_path, 8, 0).ignores(signal.SIGINT)
    assert not TrainerProcess(9, proc_root=str(tmp_path)).ignores(signal.SIGINT)  # unreadable: not ignored
    real = subprocess.Popen(["bash", "-c", 'trap "" INT; exec sleep 30'])
    try:
        deadline = time.monotonic() + 10
        while not TrainerProcess(real.pid).ignores(signal.SIGINT):
            assert time.monotonic() < deadline, "SIG_IGN of SIGINT not seen"
            time.sleep(0.02)
        assert not TrainerProcess(real.pid).ignores(signal.SIGTERM)
    finally:
        real.kill()
        real.wait()


@pytest.mark.parametrize(("interrupt", "returncode", "interrupted"), [
    (None, -signal.SIGINT, False),  # no interrupt reached it: a SIGINT from elsewhere is no user's stop
    (signal.SIGINT, -signal.SIGINT, True),  # Python's Ctrl-C
    (signal.SIGINT, 0, True),  # caught, a checkpoint saved, exit 0
    (signal.SIGINT, 1, True),  # torchrun's SignalException
    (signal.SIGTERM, -signal.SIGTERM, True),
    (signal.SIGINT, -signal.SIGKILL, False),  # it went on, then kill -9 or the OOM killer: a crash
    (signal.SIGINT, -signal.SIGSEGV, False),
    (signal.SIGINT, None, True),  # still stopping
])
def test_an_interrupt_counts_only_when_the_trainer_ends_by_it(interrupt, returncode, interrupted):
    trainer = TrainerProcess(1)
    trainer.interrupt, trainer.returncode = interrupt, returncode
    assert trainer.interrupted is interrupted
