"""A directory of past runs in one exporter: the runs that did not change since the last scrape
are not encoded again (the exposition is still the encoder's own), and logs past the limit of runs
are not followed, with a warning that names the fix."""

from __future__ import annotations

import os
import resource
import time

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics

from conftest import write_log
from exporter.alerts.runs import AlertSettings, RunAlerts
from exporter.collectors.base import CollectorStats
from exporter.collectors.runs import RunsCollector
from exporter.run_set.limits import MAX_RUNS, SPARE_FILES, ensure_open_files
from exporter.server.expositions import SharedExpositions
from nanogpt_fixture import preamble, progress_lines
from test_run_set import run_set


def _runs(tmp_path, count, written=None, **kwargs):
    """``count`` runs of a glob; ``written``: when their logs were last written (default: now)."""
    for n in range(count):
        (tmp_path / f"r{n:03d}").mkdir()
        log = write_log(tmp_path / f"r{n:03d}" / "train.log", preamble() + progress_lines(0, 100))
        if written is not None:
            os.utime(log, (written, written))
    runs = run_set([str(tmp_path / "*" / "train.log")], **kwargs)
    runs.open(1_000_000.0)
    return runs


class CountingEncoder:
    """An encoder that remembers the runs of the samples it encoded."""

    def __init__(self, encoder) -> None:
        self.encoder = encoder
        self.runs: list[str] = []

    def __call__(self, source) -> bytes:
        families = list(source.collect())
        self.runs += [sample.labels.get("run", "") for family in families for sample in family.samples]
        return self.encoder(source)


def test_idle_runs_are_encoded_once_and_a_growing_one_again(tmp_path):
    runs = _runs(tmp_path, 50)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RunsCollector(runs, CollectorStats(), "node"))
    shared = SharedExpositions(registry)
    for encoder, content_type in ((generate_latest, "text"), (openmetrics, "openmetrics")):
        counting = CountingEncoder(encoder)
        first = shared.get(counting, content_type, gzipped=False)
        assert first == encoder(registry) and len(set(counting.runs)) == 50
        counting.runs.clear()
        assert shared.get(counting, content_type, gzipped=False) == first
        assert counting.runs == []  # nothing changed: nothing encoded again
    write_log(tmp_path / "r007" / "train.log", progress_lines(110, 120), append=True)
    next(e for e in runs.entries() if e.name == "r007").watcher.poll()
    counting = CountingEncoder(generate_latest)
    body = shared.get(counting, "text", gzipped=False)
    assert b'training_iteration{run="r007"} 120.0' in body and body == generate_latest(registry)
    assert set(counting.runs) == {"r007"}  # only the run that grew
    runs.stop()


def test_logs_past_the_limit_are_not_followed_and_the_warning_names_the_fix(tmp_path, caplog):
    runs = _runs(tmp_path, 12, max_runs=10)
    assert len(runs.entries()) == 10
    warning = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warning) == 1
    assert "match 12 runs" in warning[0] and "at most 10" in warning[0] and "2 logs are not followed" in warning[0]
    assert "narrow the glob" in warning[0]
    runs.refresh(1_000_100.0)  # within 10 minutes: not said again
    assert len(runs.entries()) == 10
    assert len([r for r in caplog.records if r.levelname == "WARNING"]) == 1
    runs.stop()


def test_the_open_files_limit_is_raised_for_the_logs_followed():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, hard), hard))
        limit = ensure_open_files(MAX_RUNS)
        assert limit == min(MAX_RUNS + SPARE_FILES, hard) == resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_an_idle_runs_energy_is_ticked_every_ten_seconds_not_every_second(tmp_path):
    runs = _runs(tmp_path, 3, written=time.time() - 86_400)  # yesterday's runs: stalled, counting nothing
    ticks = []
    for entry in runs.entries():
        entry.energy.tick = lambda *args, name=entry.name, **kwargs: ticks.append((name, args[2], kwargs["counting"]))
    for second in range(31):
        runs.tick((), 2_000_000_000.0 + second)
    assert sorted({t for _, t, _ in ticks}) == [2_000_000_000.0 + s for s in (0, 10, 20, 30)]
    assert not any(counting for _, _, counting in ticks) and len(ticks) == 12
    runs.stop()


def test_a_run_that_counts_again_after_idle_ticks_counts_only_since_the_previous_tick(tmp_path):
    runs = _runs(tmp_path, 2, written=time.time() - 86_400)
    start = time.time()
    for second in range(25):
        runs.tick((), start - 25 + second)
    grown = tmp_path / "r001" / "train.log"
    write_log(grown, progress_lines(110, 120), append=True)  # r001 runs again, read as it arrives
    entry = next(e for e in runs.entries() if e.name == "r001")
    entry.watcher.poll()
    assert entry.snapshot().state == "running"
    runs.tick((), start)
    runs.tick((), start + 1)
    # 100 W of other_watts, all r001's while it alone counts: from the previous tick (start - 1) on
    assert entry.energy.figures(entry.snapshot()).joules == pytest.approx(200.0)
    runs.stop()


@pytest.mark.parametrize(("for_cap", "evaluated_at"), [
    (0.0, [0, 10, 20]),  # fired at once, nothing pending: an idle run is evaluated every 10 s
    (None, list(range(21))),  # TrainingStalled pending for its 60 s: evaluated at every tick
])
def test_an_idle_runs_alerts_are_evaluated_every_ten_seconds_unless_one_is_pending(tmp_path, for_cap, evaluated_at):
    runs = _runs(tmp_path, 1, written=time.time() - 86_400)
    alerts = RunAlerts(AlertSettings(for_cap_seconds=for_cap), None)
    start, ticks = time.time(), []
    for second in range(21):
        alerts.tick(runs.entries(), runs.latest()[0], (), start + second)
        ticks.append(alerts._engines["r000"].last_tick[1] - start)
    assert sorted(set(ticks)) == evaluated_at
    runs.stop()
