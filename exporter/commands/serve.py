"""The ``serve`` command: wire the runs, the GPUs and the energy to one registry, serve /metrics,
stop cleanly. This is where the configuration is handed out, each part getting only its own
settings."""

from __future__ import annotations

import logging
import signal
import socket
import threading
import time
from dataclasses import replace
from pathlib import Path

from prometheus_client import CollectorRegistry

from exporter import web
from exporter.alerts import AlertSettings
from exporter.notify import open_notifier, page_url
from exporter.alerts.runs import RunAlerts
from exporter.collectors.alerts import AlertsCollector
from exporter.collectors.base import CollectorStats, Labelled
from exporter.collectors.exporter_self import ExporterCollector
from exporter.collectors.gpu import GpuCollector
from exporter.collectors.runs import RunsCollector
from exporter.commands.config import Config
from exporter.energy import EnergySettings
from exporter.energy.store import StateStore
from exporter.errors import UsageError
from exporter.formats import FormatReader
from exporter.gpu import GpuSettings, GpuTelemetry, open_telemetry
from exporter.run import RunModel, StallTimeouts, TrainerSettings
from exporter.run.text import as_text
from exporter.run_set.entry import RunFactory
from exporter.run_set.registry import RunSet
from exporter.server import http_server
from exporter.server.addresses import url
from exporter.server.security import Security
from exporter.trainer.config_file import read_config_file
from exporter.trainer.process import TrainerProcess

log = logging.getLogger(__name__)


def open_run(config: Config, log_path: str | None = None, run: str | None = None) -> RunModel:
    """The model of a log (default: ``config``'s one log) with its format, trainer config file and
    flags applied; its name and log path as text (see :mod:`exporter.run.text`)."""
    log_path = log_path or config.single_log or ""
    return RunModel(
        as_text(run or config.run or Path(log_path).stem or "train"),
        as_text(log_path),
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
        budget=config.budget,
    )


def gpu_settings(config: Config) -> GpuSettings:
    return GpuSettings(gpus=config.gpus, trainer_pid=config.trainer_pid,
                       trainer_cmdline_match=config.trainer_cmdline_match,
                       sample_interval_seconds=config.gpu_sample_interval_seconds)


def alert_settings(config: Config, tls: bool = False) -> AlertSettings:
    return AlertSettings(webhook_file=config.slack_webhook_file, notify_file=config.notify_file,
                         repeat_interval_seconds=config.slack_repeat_interval_seconds,
                         link=config.slack_link or page_url(config.listen_address, config.port, tls),
                         for_cap_seconds=config.alert_for_cap_seconds)


def open_runs(config: Config, trainer: TrainerProcess | None) -> RunSet:
    """The runs of ``config``'s logs (a plain log's run named by ``run``), or, without a log, the
    GPU-only run ``run``; opened, their watchers not started."""
    store = StateStore(config.state_file) if config.state_file else None
    logs = tuple(replace(source, run=source.run or config.run) for source in config.logs)
    factory = RunFactory(lambda path, name: open_run(config, path, name), energy_settings(config), store,
                         config.poll_interval_seconds, trainer, config.trainer_cmdline_match, config.checkpoint_dir)
    runs = RunSet(factory, logs, gpu_only_run=None if logs else config.run,
                  missing_log_grace_seconds=config.missing_log_grace_seconds)
    runs.open(time.time())
    return runs


def _registry(runs: RunSet, telemetry: GpuTelemetry, alerts: RunAlerts, node: str,
              stats: CollectorStats, security: Security | None) -> CollectorRegistry:
    """Every collector of the exposition, on a registry of its own."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RunsCollector(runs, stats, node))
    registry.register(Labelled(GpuCollector(telemetry, stats), {"node": node}))
    registry.register(AlertsCollector(alerts, stats))
    registry.register(ExporterCollector(stats, (lambda: security.auth_failures) if security else None))
    return registry


def _tick(runs: RunSet, telemetry: GpuTelemetry, alerts: RunAlerts, pages: web.RunPages) -> None:
    """One pass of the serve loop: runs picked up or dropped, the energy split and counted, the
    alerts evaluated, the page's charts sampled."""
    runs.refresh(time.time())
    runs.tick(telemetry.readings(), time.time())
    shares, readings = runs.latest()
    alerts.tick(runs.entries(), shares, readings, time.time())
    pages.sample()


def bind(config: Config) -> socket.socket:
    """The listening socket of ``config``'s address and port; a port in use or an address that is
    none is a :class:`UsageError` naming the fix."""
    try:
        return http_server.listen(config.listen_address, config.port)
    except OSError as exc:
        raise UsageError(f"cannot listen on {config.listen_address}:{config.port}: {exc.strerror or exc}; "
                         "pass another --port or --listen-address") from exc


def preflight(config: Config) -> socket.socket:
    """Before ``run`` starts the trainer: the web configuration checked, the port bound (returned)
    and the run's model opened once, so that a mistake in its settings (the trainer config, a
    custom format file) is said first."""
    if config.web_config_file:
        Security(config.web_config_file)
    listener = bind(config)
    try:
        open_run(config)
    except BaseException:
        listener.close()
        raise
    return listener


def run(config: Config, stop: threading.Event | None = None, trainer: TrainerProcess | None = None,
        listener: socket.socket | None = None) -> int:
    """Serve until SIGTERM, SIGINT or SIGHUP, or, when ``stop`` is given (``run`` wraps the trainer and
    owns the signals), until it is set. ``trainer``: the trainer's process, when the caller knows
    it better than ``--trainer-pid`` (its default); ``listener``: the socket already bound (by
    :func:`preflight`), else the port is bound first of all."""
    if not config.logs and not config.run:
        raise UsageError("no log to follow: pass --log PATH (or `log:` in the config file), or, on a node that "
                         "only reports the GPUs of a run whose log another node follows, --run NAME")
    security = Security(config.web_config_file) if config.web_config_file else None
    if stop is None:
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, lambda *_: stop.set())
    listener = listener or bind(config)
    if trainer is None and config.trainer_pid:
        trainer = TrainerProcess(config.trainer_pid)
    try:
        telemetry = open_telemetry(gpu_settings(config))
        settings = alert_settings(config, tls=security is not None and security.tls_on)
        alerts = RunAlerts(settings, open_notifier(settings))
        runs = open_runs(config, trainer)
    except BaseException:
        listener.close()
        raise
    node = config.node or socket.gethostname()
    stats = CollectorStats()
    registry = _registry(runs, telemetry, alerts, node, stats, security)
    pages = web.RunPages(runs.entries, readings=telemetry.readings, gpu_error=telemetry.error,
                         alerts=lambda run: lambda: alerts.firing(run))
    server = http_server.start(registry, config.listen_address, config.port, web.routes(pages), listener, security,
                               on_skipped=stats.family_skipped)
    log.info("serving %s on node %s on %s", ", ".join(repr(e.name) for e in runs.entries())
             or "the logs to come", node, url(config.listen_address, config.port, "/metrics",
                                             "https" if security is not None and security.tls_on else "http"))

    runs.start()
    telemetry.start()
    try:
        while not stop.wait(config.gpu_sample_interval_seconds):
            _tick(runs, telemetry, alerts, pages)
    finally:
        log.info("stopping")
        alerts.stop(time.time())
        runs.stop()
        telemetry.stop()
        server.stop()
    return 0
