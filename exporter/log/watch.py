"""Keeps a run model up to date from its log (read by :class:`~exporter.log.poller.LogPoller`, or
by ``status`` itself) and publishes an immutable snapshot of it after a read that changed it, which
every reader (collectors, energy, ``status``) then shares. A read that changed nothing publishes
nothing new: the same snapshot object tells the readers that nothing needs working out again."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from exporter.log import stamps
from exporter.log.follow import LogFollower
from exporter.log.kinds import text_problem
from exporter.run import RunModel, RunSnapshot
from exporter.trainer.process import TrainerProcess

log = logging.getLogger(__name__)

UNRECOGNISED_WARNING_LINES = 1000  # lines read without recognising the log before serve says so
# How often the log is read: fresh enough for scrapes seconds apart, and each read wakes the process
POLL_INTERVAL_SECONDS = 1.0
# States that time alone does not change (a running or starting run becomes stalled by silence)
SETTLED_STATES = frozenset({"waiting", "stalled", "finished", "crashed", "interrupted"})


class LogWatcher:
    def __init__(
        self,
        model: RunModel,
        follower: LogFollower,
        clock: Callable[[], float] = time.time,
        trainer: TrainerProcess | None = None,
    ) -> None:
        """``trainer``: the trainer's process, when known, whose end ends the run."""
        self.model = model
        self._trainer = trainer
        self._trainer_ended = False
        self._follower = follower
        self._clock = clock
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
        before = self._inputs()
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
        if self._inputs() != before or self._published.state not in SETTLED_STATES:
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

    def _inputs(self) -> tuple:
        """What the snapshot is made of, apart from the time: when none of it changed, neither did
        the snapshot of a run in a settled state."""
        m = self.model
        return (m.counts.lines_read, m.log_present, m.log_problem, m.trainer_alive, m.activity_unknown,
                self._trainer_ended, m.generation)

    def _publish(self) -> None:
        snapshot = self.model.snapshot(self._clock())
        if snapshot == self._published:
            return  # the same object: readers keep what they worked out from it
        self._published = snapshot  # a reference swap: readers need no lock
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

    @property
    def path(self) -> str:
        return self._follower.path

    @property
    def modified(self) -> float | None:
        """The log's mtime at the last read (when it last grew); None while it does not exist."""
        return self._follower.modified

    @property
    def watches_trainer(self) -> bool:
        return self._trainer is not None

    def close(self) -> None:
        self._follower.close()
