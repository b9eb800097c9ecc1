"""The runs one exporter follows: opened as their logs appear, dropped a grace period after a
glob's log is gone, and the GPUs' energy split among them at each tick of the sampler loop.

The serve loop is the only writer (:meth:`RunSet.refresh`, :meth:`RunSet.tick`); scrapes read
:meth:`RunSet.entries` and :meth:`RunSet.latest`, immutable tuples swapped by reference.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from exporter.energy.service import trainer_running
from exporter.energy.split import EnergySplit
from exporter.gpu import GpuReading
from exporter.gpu.processes import ProcFs
from exporter.run import RunSnapshot
from exporter.log.poller import LogPoller
from exporter.run.text import as_text
from exporter.run_set import attribution
from exporter.run_set.discovery import LogDiscovery
from exporter.run_set.entry import RunEntry, RunFactory
from exporter.run_set.limits import MAX_RUNS, ensure_open_files
from exporter.run_set.sources import LogSource, derived_name, unique_name

log = logging.getLogger(__name__)

# The globs are matched again at each tick while they match a few hundred logs, then less often:
# every 5 s at 1,000 logs, at most every 10 s (a run's new log is picked up that much later).
SCAN_SECONDS_PER_LOG = 0.005
MAX_SCAN_INTERVAL_SECONDS = 10.0
# A run that counts no energy is ticked this often, not at every tick of the serve loop.
IDLE_ENERGY_SECONDS = 10.0


class RunSet:
    def __init__(self, factory: RunFactory, sources: Sequence[LogSource], *, gpu_only_run: str | None = None,
                 missing_log_grace_seconds: float = 300.0, processes: attribution.RunProcessTable | None = None,
                 discovery: LogDiscovery | None = None, max_runs: int = MAX_RUNS) -> None:
        """``sources``: the logs to follow; ``gpu_only_run`` (without sources): the run whose GPUs
        this node reports while another node follows its log; ``max_runs``: the most runs followed
        (logs past it are not, with a warning)."""
        self._factory = factory
        self._discovery = discovery or LogDiscovery(sources)
        self._gpu_only_run = gpu_only_run
        self._alone = gpu_only_run is not None or (len(sources) == 1 and not sources[0].is_glob)
        self._grace = missing_log_grace_seconds
        self._processes = processes or ProcFs()
        self._poller = LogPoller(factory.poll_interval_seconds)  # one thread reads every log
        self._entries: tuple[RunEntry, ...] = ()
        self._paths: dict[str, RunEntry] = {}  # the followed log of each run that has one
        self._next_scan = float("-inf")  # when the globs are matched again
        self._max_runs = max_runs
        self._energy_ticks: dict[RunEntry, tuple[float, bool, dict[str, float]]] = {}
        self._previous_tick = float("-inf")
        self._over_limit_warned = float("-inf")
        self.split = EnergySplit()
        self._latest: tuple[attribution.GpuShares, tuple[GpuReading, ...]] = (attribution.GpuShares({}, {}), ())

    def entries(self) -> tuple[RunEntry, ...]:
        return self._entries

    def latest(self) -> tuple[attribution.GpuShares, tuple[GpuReading, ...]]:
        """The shares of the latest tick and the GPU readings they came from, read together."""
        return self._latest

    # ---- which runs ------------------------------------------------------------------------------

    def open(self, now: float) -> None:
        """Open the runs there are now (their backfills read); their logs are read on after :meth:`start`."""
        if self._gpu_only_run is not None:
            self._add(self._factory.gpu_run(as_text(self._gpu_only_run), now))
        else:
            self.refresh(now)

    def refresh(self, now: float) -> None:
        """Open the logs that globs match now, drop the runs whose glob's log has been gone for the
        grace period."""
        if self._gpu_only_run is not None or (self._entries and not self._discovery.has_globs) \
                or now < self._next_scan:
            return
        found = self._discovery.scan()
        self._next_scan = now + min(len(found) * SCAN_SECONDS_PER_LOG, MAX_SCAN_INTERVAL_SECONDS)
        new = [(path, source) for path, source in found.items() if path not in self._paths]
        room = max(0, self._max_runs - len(self._entries))
        if len(new) > room:
            self._warn_over_limit(len(found) - len(self._paths) + len(self._entries), len(new) - room, now)
        if new[:room]:
            ensure_open_files(len(self._entries) + len(new[:room]))
        names = {e.name for e in self._entries}
        for path, source in new[:room]:
            name = unique_name(derived_name(source, path), path, names)
            names.add(name)
            entry = self._factory.log_run(name, path, source, now, self._alone)
            self._paths[path] = entry
            self._add(entry)
            log.info("following run %r from %s", name, path)
            self._poller.add(entry.watcher)
        for path, entry in list(self._paths.items()):
            self._check_missing(path, entry, path in found, now)

    def _warn_over_limit(self, logs: int, left_out: int, now: float) -> None:
        """Say (again every 10 minutes while it holds) that logs past the limit are not followed."""
        if now - self._over_limit_warned < 600:
            return
        self._over_limit_warned = now
        log.warning("the logs match %d runs, and one exporter follows at most %d: %d logs are not followed; "
                    "narrow the glob (for example runs/2026-12-*/train.log) or follow the rest with a second "
                    "exporter", logs, self._max_runs, left_out)

    def _check_missing(self, path: str, entry: RunEntry, matched: bool, now: float) -> None:
        if matched or not entry.source.is_glob:
            entry.missing_since = None
            return
        if entry.missing_since is None:
            entry.missing_since = now
            log.info("the log of run %r (%s) is gone: the run is dropped in %.0f s unless it comes back",
                     entry.name, path, self._grace)
        elif now - entry.missing_since >= self._grace:
            self._drop(path, entry)

    def _add(self, entry: RunEntry) -> None:
        self.split.track(entry.name)
        self._entries = (*self._entries, entry)

    def _drop(self, path: str, entry: RunEntry) -> None:
        del self._paths[path]
        self._entries = tuple(e for e in self._entries if e is not entry)
        self._poller.remove(entry.watcher)
        self._energy_ticks.pop(entry, None)
        entry.energy.forget()
        self.split.forget(entry.name)
        log.info("run %r dropped: its log %s has been gone for %.0f s", entry.name, path, self._grace)

    # ---- energy ----------------------------------------------------------------------------------

    def tick(self, readings: tuple[GpuReading, ...], now: float) -> None:
        """Split the GPUs' energy since the last tick among the runs counting now, and count it."""
        entries = self._entries
        gpus = {r.uuid: r.processes for r in readings}
        shares = attribution.shares(gpus, [e.match for e in entries], self._processes, alone=self._alone)
        for entry in entries:
            entry.gpus_in_use = bool(shares.uuids_of(entry.name))
        snapshots = {entry.name: entry.snapshot() for entry in entries}
        counting = {name for name, s in snapshots.items() if trainer_running(s, now)}
        self.split.add({r.uuid: r.energy_joules for r in readings if r.energy_joules is not None},
                       {uuid: {run: share for run, share in runs.items() if run in counting}
                        for uuid, runs in shares.shares.items()})
        for entry in entries:
            self._count_energy(entry, snapshots[entry.name], entry.name in counting, now,
                               1.0 / max(len(counting), 1))
            # the slowdown's evidence: the GPUs the run's processes are on (a lone run: every GPU, until known)
            used = shares.uuids_of(entry.name)
            mine = [r for r in readings if r.uuid in used] or (list(readings) if len(entries) == 1 else [])
            entry.slowdown.observe(snapshots[entry.name].slowdown.slow_for_seconds > 0, mine, now)
        self._previous_tick = now
        self._latest = (shares, readings)  # one reference swap: scrapes read both together

    def _count_energy(self, entry: RunEntry, snapshot: RunSnapshot, counting: bool, now: float,
                      other_share: float) -> None:
        """Count the run's energy at ``now``. A run that counts nothing (not now, nor at its last
        tick, its GPU energy unchanged) is ticked only every ``IDLE_ENERGY_SECONDS``; when it counts
        again, a tick at the previous tick's time first stands for the ones left out."""
        readings = self.split.readings(entry.name)
        last = self._energy_ticks.get(entry)  # (time, counting, readings) of its last tick
        idle = last is not None and not counting and not last[1] and last[2] == readings
        if idle and now - last[0] < IDLE_ENERGY_SECONDS:
            return
        if counting and last is not None and not last[1] and last[0] < self._previous_tick:
            entry.energy.tick(snapshot, readings, self._previous_tick, other_share=other_share, counting=False)
        entry.energy.tick(snapshot, readings, now, other_share=other_share, counting=counting)
        self._energy_ticks[entry] = (now, counting, readings)

    def peak_flops(self, run: str) -> float | None:
        """The summed dense bf16 peak of the GPUs ``run`` uses; None if one is not a known model."""
        shares, readings = self._latest
        used = shares.uuids_of(run)
        peaks = [r.peak_flops for r in readings if r.uuid in used]
        return None if not peaks or None in peaks else sum(peaks)

    # ---- the threads -----------------------------------------------------------------------------

    def start(self) -> None:
        """Start reading the logs (on one thread for all of them)."""
        self._poller.start()

    def stop(self) -> None:
        self._poller.stop()
        for entry in self._entries:
            entry.energy.flush()
