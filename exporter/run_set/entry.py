"""One followed run: its log watcher (none on a node that only reports the run's GPUs), its
energy, how its GPU processes are recognised; and the factory that opens one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from exporter.energy import EnergySettings, RunEnergy
from exporter.energy.store import StateStore
from exporter.health.slowdown_cause import SlowdownEvidence
from exporter.log.follow import LogFollower
from exporter.run import RunModel, RunSnapshot
from exporter.run_set.attribution import RunMatch
from exporter.run_set.checkpoints import CheckpointProbe
from exporter.run_set.sources import LogSource
from exporter.trainer.process import TrainerProcess
from exporter.log.watch import POLL_INTERVAL_SECONDS, LogWatcher


@dataclass(eq=False)
class RunEntry:
    name: str
    match: RunMatch
    energy: RunEnergy
    watcher: LogWatcher | None = None  # None: GPU-only, the log is on another node
    source: LogSource | None = None
    missing_since: float | None = None  # when its glob stopped matching its log
    gpus_in_use: bool = False  # GPU-only: whether its processes are on the GPUs
    slowdown: SlowdownEvidence = field(default_factory=SlowdownEvidence)  # the GPU side of a slowdown
    checkpoints: CheckpointProbe = field(default_factory=CheckpointProbe)

    def snapshot(self) -> RunSnapshot:
        """The latest snapshot of the run; GPU-only: running while its processes are on the GPUs."""
        if self.watcher is not None:
            return self.watcher.snapshot()
        return gpu_only_snapshot(self.name, self.gpus_in_use)


def gpu_only_snapshot(run: str, in_use: bool) -> RunSnapshot:
    return RunSnapshot(run=run, format="none", log_path="", state="running" if in_use else "waiting")


@dataclass(frozen=True)
class RunFactory:
    """Opens runs with the exporter's settings. ``open_model(path, run)``: the model of a log."""

    open_model: Callable[[str, str], RunModel]
    energy: EnergySettings
    store: StateStore | None = None
    poll_interval_seconds: float = POLL_INTERVAL_SECONDS
    trainer: TrainerProcess | None = None  # the one run's trainer process, when known
    trainer_cmdline_match: str = "train"
    checkpoint_dir: str | None = None  # --checkpoint-dir: where every run saves, over what its log says

    def log_run(self, name: str, path: str, source: LogSource, now: float, alone: bool) -> RunEntry:
        """The run of the log at ``path``, its backfill read (it tells which run the energy state
        belongs to); ``alone``: the exporter's only run (it keeps ``--trainer-pid`` and
        ``--trainer-cmdline-match``)."""
        trainer = self.trainer if alone else None
        watcher = LogWatcher(self.open_model(path, name), LogFollower(path), trainer=trainer)
        watcher.poll()
        return RunEntry(name, self._match(name, source.trainer_cmdline_match, alone, path),
                        RunEnergy.open(self.energy, watcher.snapshot(), now, self.store), watcher, source,
                        checkpoints=CheckpointProbe(self.checkpoint_dir))

    def gpu_run(self, name: str, now: float) -> RunEntry:
        """A run whose log another node follows: its GPUs and energy only."""
        return RunEntry(name, self._match(name, None, alone=True),
                        RunEnergy.open(self.energy, gpu_only_snapshot(name, False), now, self.store))

    def _match(self, name: str, cmdline_match: str | None, alone: bool, log_path: str | None = None) -> RunMatch:
        if alone:
            return RunMatch(name, self.trainer.pid if self.trainer else None,
                            cmdline_match or self.trainer_cmdline_match, log_path)
        return RunMatch(name, None, cmdline_match or name, log_path)
