"""Hundreds of runs in one exporter: one thread reads every log, a log that has not grown for a
while is read less often (never less than every MAX_IDLE_POLL_SECONDS), and a read that changed
nothing publishes no new snapshot."""

from __future__ import annotations

import os
import threading
import time

import pytest

from conftest import write_log
from exporter.log.follow import LogFollower
from exporter.log.poller import MAX_IDLE_POLL_SECONDS, LogPoller, poll_interval
from exporter.log.watch import LogWatcher
from exporter.run import RunModel
from nanogpt_fixture import preamble, progress_lines
from test_run_set import run_set


def test_the_interval_grows_with_the_quiet_and_is_capped():
    assert poll_interval(1.0, None) == 1.0
    assert poll_interval(1.0, 2.0) == 1.0  # a log that grew two seconds ago: at the full rate
    assert poll_interval(1.0, 60.0) == pytest.approx(6.0)
    assert poll_interval(1.0, 86_400.0) == MAX_IDLE_POLL_SECONDS  # yesterday's run
    assert poll_interval(30.0, 86_400.0) == 30.0  # never more often than asked


def test_a_thousand_logs_are_read_by_one_thread(tmp_path):
    for n in range(1000):
        (tmp_path / f"r{n}").mkdir()
        write_log(tmp_path / f"r{n}" / "train.log", preamble() + progress_lines(0, 20))
    before = threading.active_count()
    runs = run_set([str(tmp_path / "*" / "train.log")])
    runs.open(0.0)
    runs.start()
    try:
        assert len(runs.entries()) == 1000
        assert threading.active_count() - before == 1
        assert [t.name for t in threading.enumerate()].count("log-poller") == 1
    finally:
        runs.stop()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_quiet_log_is_read_less_often_and_a_growing_one_at_once(tmp_path):
    log = write_log(tmp_path / "train.log", preamble() + progress_lines(0, 100))
    os.utime(log, (1_000.0, 1_000.0))  # last written 1,000 s before the wall clock below
    clock = Clock()
    watcher = LogWatcher(RunModel("r", str(log)), LogFollower(str(log)))
    watcher.poll()
    poller = LogPoller(1.0, clock=clock, wall=lambda: 2_000.0)
    poller.add(watcher)
    reads = []
    watcher.poll = lambda poll=watcher.poll: reads.append(clock.now) or poll()
    while clock.now < 60.0:
        clock.now += poller.step()
    assert reads == [0.0, 15.0, 30.0, 45.0, 60.0][:len(reads)] and len(reads) == 4
    write_log(log, progress_lines(110, 120), append=True)
    os.utime(log, (2_000.0, 2_000.0))
    clock.now += poller.step()  # the next scheduled read finds the new lines
    assert watcher.snapshot().iteration == 120
    assert poller.step() == 1.0  # grown just now: read again in one poll interval


def test_a_read_that_changes_nothing_keeps_the_snapshot_of_a_settled_run(tmp_path):
    log = write_log(tmp_path / "train.log", preamble() + progress_lines(0, 100) + ["saving checkpoint to out"])
    clock = [time.time() + 86_400]  # a day after it was written
    watcher = LogWatcher(RunModel("r", str(log)), LogFollower(str(log)), clock=lambda: clock[0])
    watcher.poll()
    first = watcher.snapshot()
    assert first.state == "stalled"
    clock[0] += 60
    watcher.poll()
    assert watcher.snapshot() is first
    write_log(log, progress_lines(110, 120), append=True)
    watcher.poll()
    assert watcher.snapshot() is not first and watcher.snapshot().iteration == 120
