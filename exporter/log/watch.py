"""Keeps a run model up to date from its log in a background thread and publishes one immutable
snapshot of it per read, which every reader (collectors, energy, ``status``) then shares."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from exporter.log import stamps
from exporter.log.follow import LogFollower
from exporter.log.kinds import text_problem
from exporter.run import RunModel, RunSnapshot
from exporter.threads import Repeating
from exporter.trainer.process import TrainerProcess

log = logging.getLogger(__name__)

UNRECOGNISED_WARNING_LINES = 1000  # lines read without recognising the log before serve says so
# How often the log is read: fresh enough for scrapes seconds apart, and each read wakes the process
POLL_INTERVAL_SECONDS = 1.0


class LogWatcher:
    def __init__(
        self,
        model: RunModel,
        follower: LogFollower,
        poll_interval: float = POLL_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.time,
        trainer: TrainerProcess | None = None,
    ) -> None:
        """``trainer``: the trainer's process, when known, whose end ends the run."""
        self.model = model
        self._trainer = trainer
        self._trainer_ended = False
        self._follower = follower
        self._poll_interval = poll_interval
        self._clock = clock
        self._loop = Repeating("log-watcher", self._step, self._failed, poll_interval)
        self._announced_waiting = False
        self._announced_no_trainer = False
        self._announced_unrecognised = False
        self._published = model.snapshot(clock())

    def poll(self) -> int:
        """Read what is new in the log, apply it and publish a new snapshot; returns the number of
        lines read. A long backfill publishes after each chunk, so scrapes see it advance."""
        lines = 0
        backfilled_until = None
        if self._trainer is not None and not self._trainer_ended:
            # set before the lines are read: what an interrupt makes the trainer print comes after it
            self.model.stopping = self._trainer.interrupt is not None
        for batch in self._follower.poll():
            arrived = None if batch.backfill else self._clock()
            stamps.feed(self.model, batch.lines, arrived)
            if batch.dropped:
                self.model.count_not_understood(batch.dropped)
            lines += len(batch.lines)
            if batch.backfill:
                backfilled_until = batch.modified
                self._publish()
        self.model.log_present = self._follower.present
        self.model.log_problem = self._follower.problem
        if backfilled_until is not None:
            self.model.mark_activity(backfilled_until)
        elif self.model.log_present and self.model.activity_unknown:
            self.model.mark_activity(self._clock())
        if self._trainer is not None:
            self._watch_trainer()
        self._publish()
        if not self._follower.present and not self._announced_waiting:
            log.info("waiting for %s to appear", self._follower.path)
            self._announced_waiting = True
        return lines

    def _watch_trainer(self) -> None:
        if self._trainer.alive():
            self.model.trainer_alive = True
            return
        if self._trainer_ended:
            return
        if not self._trainer.seen:
            if not self._announced_no_trainer:
                log.warning("no process with PID %d (--trainer-pid): the end of the run is read from the log only",
                            self._trainer.pid)
                self._announced_no_trainer = True
            return
        self._trainer_ended = True
        log.info("the trainer's process %d has ended", self._trainer.pid)
        self.model.trainer_ended(interrupted=self._trainer.interrupted, returncode=self._trainer.returncode)

    def _publish(self) -> None:
        self._published = snapshot = self.model.snapshot(self._clock())  # a reference swap: readers need no lock
        if not snapshot.log_recognised and snapshot.lines_read and not self._announced_unrecognised:
            if problem := text_problem(self._follower.head):
                log.warning("%s: %s", self._follower.path, problem)
            elif snapshot.lines_read >= UNRECOGNISED_WARNING_LINES:
                log.warning("none of the first %d lines of %s was recognised as a training log; if it is one, "
                            "name its format with --format", snapshot.lines_read, self._follower.path)
            self._announced_unrecognised = problem is not None or snapshot.lines_read >= UNRECOGNISED_WARNING_LINES

    def snapshot(self) -> RunSnapshot:
        """The snapshot published by the latest read of the log."""
        return self._published

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop(join_seconds=5)
        self._follower.close()

    def _step(self) -> float:
        self.poll()
        return self._poll_interval

    def _failed(self, exc: Exception) -> None:  # keep following whatever one poll ran into
        log.error("reading %s failed", self._follower.path, exc_info=exc)
