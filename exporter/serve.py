"""The ``serve`` command: wire the collectors to one registry, serve /metrics, stop cleanly."""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time

from prometheus_client import CollectorRegistry, start_http_server

from exporter.collectors.base import CollectorStats
from exporter.collectors.energy import EnergyCollector
from exporter.collectors.exporter_self import ExporterCollector
from exporter.collectors.gpu import GpuCollector
from exporter.collectors.training import TrainingCollector
from exporter.config import Config
from exporter.energy import LIVE_STATES, EnergyAccount
from exporter.follow import LogFollower
from exporter.gpu_telemetry import open_telemetry
from exporter.run import RunModel
from exporter.snapshot import RunSnapshot
from exporter.watch import LogWatcher

log = logging.getLogger(__name__)


def energy_key(snapshot: RunSnapshot) -> str:
    """Whose energy the state file holds: the run, and which training from scratch in its log."""
    return snapshot.run if snapshot.generation == 0 else f"{snapshot.run}#{snapshot.generation}"


def run(config: Config) -> int:
    if not config.log:
        print("training-exporter: no log to follow: pass --log PATH (or `log:` in the config file)", file=sys.stderr)
        return 2
    model = RunModel.from_config(config)
    watcher = LogWatcher(model, LogFollower(config.log), config.poll_interval_seconds)
    telemetry = open_telemetry(config)

    registry = CollectorRegistry(auto_describe=False)
    stats = CollectorStats()
    registry.register(TrainingCollector(watcher.snapshot, stats, telemetry.peak_flops))
    registry.register(GpuCollector(telemetry, stats))
    watcher.poll()  # the backfill first: it tells which run the energy state file must belong to
    first = watcher.snapshot()
    account = EnergyAccount.from_config(energy_key(first), config)
    if account.finished and first.state != "finished":
        account.restart(energy_key(first), time.time())  # the saved run is over; this is a new one
    registry.register(EnergyCollector(account, watcher.snapshot, config, stats))
    registry.register(ExporterCollector(stats))

    try:
        server, _ = start_http_server(config.port, config.listen_address, registry)
    except OSError as exc:
        print(
            f"training-exporter: cannot listen on {config.listen_address}:{config.port}: {exc.strerror or exc}; "
            "pass another --port or --listen-address",
            file=sys.stderr,
        )
        return 2
    log.info("serving run %r from %s on http://%s:%d/metrics", model.run, config.log, config.listen_address,
             config.port)

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    watcher.start()
    telemetry.start()
    try:
        while not stop.wait(config.gpu_sample_interval_seconds):
            snapshot = watcher.snapshot()
            now = time.time()
            if energy_key(snapshot) != account.run:
                account.restart(energy_key(snapshot), now)
            account.update(telemetry.energy_joules(), now, active=snapshot.state in LIVE_STATES,
                           finished=snapshot.state == "finished")
    finally:
        log.info("stopping")
        watcher.stop()
        telemetry.stop()
        account.flush()
        server.shutdown()
        server.server_close()
    return 0
