"""The real exporter process: follows a growing log, serves /metrics over HTTP, stops on SIGTERM."""

import shutil
import subprocess

import pytest

from exporter_process import ExporterProcess
from nanogpt_fixture import preamble, progress_lines


def append(path, lines):
    with open(path, "a", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def test_follows_appended_lines_and_exits_cleanly_without_a_gpu(tmp_path):
    log = tmp_path / "train.log"
    with ExporterProcess("--log", str(log), "--run", "e2e") as exporter:
        text = exporter.wait_for('training_state{run="e2e",state="waiting"} 1.0')
        assert 'training_exporter_collector_success{collector="training_log"} 0.0' in text
        append(log, preamble() + progress_lines(0, 600))
        exporter.wait_for('training_iteration{run="e2e"} 600.0')
        append(log, progress_lines(610, 700, seed=9))
        text = exporter.wait_for('training_iteration{run="e2e"} 700.0')
        assert 'training_state{run="e2e",state="running"} 1.0' in text
        assert 'training_exporter_collector_success{collector="training_log"} 1.0' in text
        assert 'training_eta_seconds{run="e2e"}' in text
        # this machine has no NVIDIA driver: the GPU collector fails on its own
        assert 'training_exporter_collector_success{collector="gpu"} 0.0' in text
        code, output = exporter.stop()
    assert code == 0
    assert "Traceback" not in output
    gpu_lines = [line for line in output.splitlines() if "NVML" in line or "nvml" in line]
    assert len(gpu_lines) == 1, output


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed (Debian package prometheus)")
def test_scraped_exposition_passes_promtool(tmp_path):
    log = tmp_path / "train.log"
    append(log, preamble() + progress_lines(0, 1300))
    with ExporterProcess("--log", str(log), "--run", "lint") as exporter:
        text = exporter.wait_for('training_iteration{run="lint"} 1300.0')
    result = subprocess.run(["promtool", "check", "metrics"], input=text, text=True, capture_output=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_port_in_use_is_a_clear_error(tmp_path):
    with ExporterProcess("--log", str(tmp_path / "a.log")) as first:
        first.wait_for("training_info")
        with ExporterProcess("--log", str(tmp_path / "b.log"), port=first.port) as second:
            second.process.wait(timeout=10)
            code, output = second.stop()
    assert code == 2 and "cannot listen on 127.0.0.1" in output and "--port" in output
