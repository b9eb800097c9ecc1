"""The training collector's exposition: golden output, failure isolation, valid for promtool."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from exporter.collectors.base import CollectorStats, SnapshotCollectors
from exporter.collectors.exporter_self import ExporterCollector
from exporter.collectors.training import TrainingCollector
from exporter.run import RunModel
from nanogpt_fixture import preamble, progress_lines

GOLDEN = Path(__file__).parent / "golden" / "training.prom"


def scenario_model():
    model = RunModel("small-gpt", "/logs/train.log")
    model.log_present = True
    for line in preamble() + progress_lines(0, 1300):
        model.feed_line(line, None)
    model.mark_activity(1_700_000_000.0)
    return model


def training(snapshot, stats, **flops):
    """The training collector, fed ``snapshot()`` on each scrape."""
    return SnapshotCollectors(snapshot, [TrainingCollector(stats, **flops)], stats)


def exposition(collector):
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return generate_latest(registry).decode()


def test_golden_exposition():
    model = scenario_model()
    collector = training(
        lambda: model.snapshot(1_700_000_010.0),
        CollectorStats(),
        peak_flops=lambda: 165.2e12,
        flops_per_token=lambda s: 6 * s.parameters,
    )
    text = exposition(collector)
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()


def test_no_iteration_numbers_in_labels_and_no_nan():
    model = scenario_model()
    text = exposition(training(lambda: model.snapshot(1_700_000_010.0), CollectorStats()))
    assert "NaN" not in text and "1300\"" not in text
    assert 'training_mfu_ratio{basis="trainer",run="small-gpt"}' in text
    assert "gpu_peak" not in text  # no GPU peak known: no recomputed MFU


def test_waiting_for_the_log_reports_failure_but_keeps_the_state():
    stats = CollectorStats()
    model = RunModel("r", "/nope/train.log")
    text = exposition(training(lambda: model.snapshot(0.0), stats))
    assert 'training_state{run="r",state="waiting"} 1.0' in text
    assert 'training_state_reason_info{reason="waiting for the log /nope/train.log",run="r",state="waiting"} 1.0' in text
    assert "training_iteration" not in text
    assert stats.snapshot()["training_log"][0] is False


def test_a_failing_source_gives_success_zero_not_an_error():
    stats = CollectorStats()

    def broken():
        raise OSError("disk on fire")

    registry = CollectorRegistry(auto_describe=False)
    registry.register(training(broken, stats))
    registry.register(ExporterCollector(stats))
    text = generate_latest(registry).decode()
    assert 'training_exporter_collector_success{collector="training_log"} 0.0' in text
    assert "training_exporter_build_info" in text


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed (Debian package prometheus)")
def test_exposition_passes_promtool_check_metrics():
    result = subprocess.run(["promtool", "check", "metrics"], input=GOLDEN.read_text(), text=True,
                            capture_output=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_crash_carries_its_error_line_and_a_stall_a_label_that_stays_put():
    model = scenario_model()
    model.feed_lines(["Traceback (most recent call last):", "torch.OutOfMemoryError: CUDA out of memory."], None)
    text = exposition(training(lambda: model.snapshot(1_700_000_010.0), CollectorStats()))
    assert ('training_state_reason_info{reason="torch.OutOfMemoryError: CUDA out of memory.",run="small-gpt",'
            'state="crashed"} 1.0') in text
    stalled = scenario_model()
    texts = {exposition(training(lambda: stalled.snapshot(1_700_000_000.0 + minutes * 60), CollectorStats()))
             for minutes in (30, 31)}
    labels = {line.rpartition(" ")[0] for text in texts for line in text.splitlines()
              if line.startswith("training_state_reason_info")}
    assert len(labels) == 1 and 'state="stalled"' in labels.pop()
