"""The ``serve`` command: wire the run, the GPUs and the energy to one registry, serve /metrics,
stop cleanly. This is where the configuration is handed out, each part getting only its own
settings."""

from __future__ import annotations

import logging
import signal
import threading
import time
from pathlib import Path

from prometheus_client import CollectorRegistry

from exporter import http_server, web
from exporter.alerts import AlertEngine, AlertSettings, open_alerts, page_url
from exporter.collectors.alerts import AlertsCollector
from exporter.collectors.base import CollectorStats, SnapshotCollectors
from exporter.collectors.energy import EnergyCollector
from exporter.collectors.exporter_self import ExporterCollector
from exporter.collectors.gpu import GpuCollector
from exporter.collectors.training import TrainingCollector
from exporter.config import Config
from exporter.energy import EnergySettings, RunEnergy
from exporter.errors import UsageError
from exporter.follow import LogFollower
from exporter.formats import FormatReader
from exporter.gpu import GpuSettings, GpuTelemetry, open_telemetry
from exporter.run import RunModel, RunSnapshot, StallTimeouts, TrainerSettings
from exporter.trainer_process import TrainerProcess
from exporter.trainer_config import read_config_file
from exporter.watch import LogWatcher

log = logging.getLogger(__name__)


def open_run(config: Config) -> RunModel:
    """The model of ``config``'s log, with its format, trainer config file and flags applied."""
    log_path = config.log or ""
    return RunModel(
        config.run or Path(log_path).stem or "train",
        log_path,
        reader=FormatReader.open(config.format, custom_format_file=config.custom_format_file,
                                 jsonl_fields=config.jsonl_fields),
        settings=TrainerSettings(
            read_config_file(config.trainer_config) if config.trainer_config else {},
            config.overrides,
            config.max_iters,
        ),
        timeouts=StallTimeouts(config.min_progress_timeout_seconds, config.startup_timeout_seconds),
    )


def energy_settings(config: Config) -> EnergySettings:
    return EnergySettings(
        other_watts=config.other_watts, psu_efficiency=config.psu_efficiency, state_file=config.state_file,
        price_per_kwh=config.price_per_kwh, currency=config.currency, carbon_g_per_kwh=config.carbon_g_per_kwh,
    )


def gpu_settings(config: Config) -> GpuSettings:
    return GpuSettings(gpus=config.gpus, trainer_pid=config.trainer_pid,
                       trainer_cmdline_match=config.trainer_cmdline_match,
                       sample_interval_seconds=config.gpu_sample_interval_seconds)


def alert_settings(config: Config) -> AlertSettings:
    return AlertSettings(webhook_file=config.slack_webhook_file,
                         repeat_interval_seconds=config.slack_repeat_interval_seconds,
                         link=config.slack_link or page_url(config.listen_address, config.port),
                         for_cap_seconds=config.alert_for_cap_seconds)


def _tick(snapshot: RunSnapshot, now: float, telemetry: GpuTelemetry, energy: RunEnergy, alerts: AlertEngine) -> None:
    """One pass of the serve loop: the energy counted and the alerts evaluated on one snapshot."""
    energy.tick(snapshot, telemetry.energy_joules(), now)
    alerts.tick(snapshot, telemetry.readings(), now)


def _registry(watcher: LogWatcher, telemetry: GpuTelemetry, energy: RunEnergy, alerts: AlertEngine) -> CollectorRegistry:
    """Every collector of the exposition, on a registry of its own."""
    registry = CollectorRegistry(auto_describe=False)
    stats = CollectorStats()
    registry.register(SnapshotCollectors(watcher.snapshot, [
        TrainingCollector(stats, telemetry.peak_flops),
        EnergyCollector(energy, stats),
    ], stats))
    registry.register(GpuCollector(telemetry, stats))
    registry.register(AlertsCollector(alerts, stats))
    registry.register(ExporterCollector(stats))
    return registry


def run(config: Config, stop: threading.Event | None = None, trainer: TrainerProcess | None = None) -> int:
    """Serve until SIGTERM or SIGINT, or, when ``stop`` is given (``run`` wraps the trainer and
    owns the signals), until it is set. ``trainer``: the trainer's process, when the caller knows
    it better than ``--trainer-pid`` (its default)."""
    if not config.log:
        raise UsageError("no log to follow: pass --log PATH (or `log:` in the config file)")
    model = open_run(config)
    if trainer is None and config.trainer_pid:
        trainer = TrainerProcess(config.trainer_pid)
    watcher = LogWatcher(model, LogFollower(config.log), config.poll_interval_seconds, trainer=trainer)
    telemetry = open_telemetry(gpu_settings(config))
    watcher.poll()  # the backfill first: it tells which run the energy state file must belong to
    energy = RunEnergy.open(energy_settings(config), watcher.snapshot(), time.time())
    alerts = open_alerts(alert_settings(config), energy)

    registry = _registry(watcher, telemetry, energy, alerts)
    page = web.RunApi(watcher.snapshot, energy=energy, readings=telemetry.readings, gpu_error=telemetry.error,
                      alerts=alerts.firing)
    try:
        server = http_server.start(registry, config.listen_address, config.port, web.routes(page))
    except OSError as exc:
        raise UsageError(f"cannot listen on {config.listen_address}:{config.port}: {exc.strerror or exc}; "
                         "pass another --port or --listen-address") from exc
    log.info("serving run %r from %s on http://%s:%d/metrics", model.run, config.log, config.listen_address,
             config.port)

    if stop is None:
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    watcher.start()
    telemetry.start()
    try:
        while not stop.wait(config.gpu_sample_interval_seconds):
            _tick(watcher.snapshot(), time.time(), telemetry, energy, alerts)
            page.sample()
    finally:
        log.info("stopping")
        alerts.stop(time.time())
        watcher.stop()
        telemetry.stop()
        energy.flush()
        server.stop()
    return 0
