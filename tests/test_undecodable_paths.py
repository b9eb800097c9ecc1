"""A log path, or a folder a glob matches, that is not valid UTF-8 never costs /metrics: labels and
the page's JSON show it as text with each undecodable byte written ``\\xff``, every other run keeps
its metrics, and a family that cannot be encoded is left out and counted, not an HTTP 500."""

from __future__ import annotations

import os

import requests
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from conftest import write_log
from exporter.collectors.base import CollectorStats
from exporter.collectors.exporter_self import ExporterCollector
from exporter.commands.cli import main
from exporter.run.text import as_text
from exporter.server.expositions import SharedExpositions
from exporter_process import ExporterProcess
from nanogpt_fixture import preamble, progress_lines


def undecodable(folder, name: bytes):
    """The folder ``folder / name``, made, where ``name`` holds bytes that are not UTF-8 (as Python
    sees such a path)."""
    path = folder / os.fsdecode(name)
    path.mkdir(parents=True)
    return path


def test_as_text_escapes_only_what_is_not_text():
    assert as_text("plain/ünïcode.log") == "plain/ünïcode.log"
    assert as_text(os.fsdecode(b"plain/\xff/train.log")) == "plain/\\xff/train.log"
    assert as_text("lone \ud800 surrogate") == "lone \\ud800 surrogate"


def test_a_log_path_that_is_not_utf8_is_served_as_text(tmp_path):
    # the report: `serve --log "$(printf 'plain/\xff/train.log')" --run okname`, then curl /metrics
    log = write_log(undecodable(tmp_path, b"plain/\xff") / "train.log", preamble() + progress_lines(0, 100))
    with ExporterProcess("--log", str(log), "--run", "okname") as exporter:
        text = exporter.wait_for('training_iteration{run="okname"} 100.0')
        assert f'log_path="{tmp_path}/plain/\\\\xff/train.log"' in text
        reply = requests.get(exporter.url.replace("/metrics", "/api/run"), timeout=5)
        assert reply.status_code == 200
        assert reply.json()["run"]["log_path"] == f"{tmp_path}/plain/\\xff/train.log"
        code, output = exporter.stop()
    assert code == 0 and "Traceback" not in output


def test_a_glob_matching_a_folder_that_is_not_utf8_costs_no_run_its_metrics(tmp_path):
    write_log(undecodable(tmp_path, b"runs/\xff\xfe-x") / "train.log", preamble() + progress_lines(0, 100))
    (tmp_path / "runs" / "ok").mkdir()
    write_log(tmp_path / "runs" / "ok" / "train.log", preamble() + progress_lines(0, 50))
    with ExporterProcess("--log", str(tmp_path / "runs" / "*" / "train.log")) as exporter:
        text = exporter.wait_for('training_iteration{run="ok"} 50.0')
        text = exporter.wait_for('training_iteration{run="\\\\xff\\\\xfe-x"} 100.0')
        assert 'training_exporter_exposition_families_skipped_total 0.0' in text


def test_status_shows_such_a_path_as_text(tmp_path, capsys):
    log = write_log(undecodable(tmp_path, b"\xff") / "train.log", preamble() + progress_lines(0, 100))
    assert main(["status", str(log)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("train: running") and f"\n{tmp_path}/\\xff/train.log\n" in out


class Collector:
    def __init__(self, *labels: str) -> None:
        self.labels = labels

    def collect(self):
        for n, value in enumerate(self.labels):
            family = GaugeMetricFamily(f"family_{n}", "one label", labels=["path"])
            family.add_metric([value], 1)
            yield family


def test_a_family_that_cannot_be_encoded_is_left_out_and_counted_not_a_failed_exposition(caplog):
    registry = CollectorRegistry(auto_describe=False)
    registry.register(Collector("fine", os.fsdecode(b"bad \xff"), "also fine"))
    stats = CollectorStats()
    registry.register(ExporterCollector(stats))
    shared = SharedExpositions(registry, stats.family_skipped)
    for scrape in (1, 2):
        body = shared.get(generate_latest, "text", gzipped=False)
        assert b'family_0{path="fine"} 1.0' in body and b'family_2{path="also fine"} 1.0' in body
        assert b"family_1" not in body
        assert f"training_exporter_exposition_families_skipped_total {scrape}.0".encode() in body
    assert stats.families_skipped == 2
    assert caplog.text.count("family_1 is left out") == 1
