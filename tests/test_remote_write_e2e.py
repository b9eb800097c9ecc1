"""The remote_write example of prometheus/prometheus.yml, uncommented, with a real Prometheus: it
scrapes the real exporter (fake NVML) and sends to a local receiver (tests/remote_write_sink.py)
the training series and the recorded ones, each with the example's external label, and nothing
else (not Prometheus' own series)."""

from __future__ import annotations

import re
import shutil

import pytest
import yaml

from conftest import PROMETHEUS_DIR
from exporter_process import ExporterProcess
from fake_nvml import FakeGpu, pynvml_source
from nanogpt_fixture import scenario_two
from remote_write_sink import RemoteWriteSink, series_labels, unsnappy
from test_prometheus_config import uncommented

RUN = "sent-on"


def test_the_receiver_decodes_snappy_and_the_write_request():
    # snappy: 12 literal bytes, then a copy of 8 bytes from 6 back; protobuf: one series, two labels
    label = b"\x0a\x08__name__\x12\x02up"
    other = b"\x0a\x03job\x12\x01x"
    request = b"\x0a" + bytes([len(label) + len(other) + 4]) + b"\x0a" + bytes([len(label)]) + label \
        + b"\x0a" + bytes([len(other)]) + other
    assert series_labels(request) == [{"__name__": "up", "job": "x"}]
    compressed = b"\x14" + bytes([11 << 2]) + b"abcdefabcdef" + bytes([((8 - 4) << 2) | 1]) + b"\x06"
    assert unsnappy(compressed) == b"abcdefabcdefabcdefab"


@pytest.fixture
def sink():
    sink = RemoteWriteSink()
    yield sink
    sink.close()


def test_the_remote_write_example_sends_the_training_series_with_the_lab_label(tmp_path, local_stack, sink):
    if local_stack.missing_binaries(alertmanager=False):
        pytest.skip("Prometheus is not installed (Debian package prometheus; CI installs it)")
    config_dir = tmp_path / "prometheus"
    shutil.copytree(PROMETHEUS_DIR, config_dir)
    text = uncommented((PROMETHEUS_DIR / "prometheus.yml").read_text(), {"remote_write", "external_labels"})
    config = yaml.safe_load(text)
    (remote,) = config["remote_write"]
    remote["url"] = sink.url
    remote["queue_config"] = {"batch_send_deadline": "1s"}
    (config_dir / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    keep = re.compile(remote["write_relabel_configs"][0]["regex"])

    log = tmp_path / "train.log"
    log.write_text(scenario_two())
    shim = tmp_path / "nvml"
    shim.mkdir()
    (shim / "pynvml.py").write_text(pynvml_source([FakeGpu(uuid="GPU-a", energy_watts=300.0)]))
    flags = ("--log", str(log), "--run", RUN, "--node", "head", "--gpu-sample-interval-seconds", "0.2",
             "--state-file", str(tmp_path / "state.json"))
    with ExporterProcess(*flags, import_first=shim) as exporter, local_stack.LocalStack(
            exporter.port, tmp_path / "stack", alertmanager=False, scrape_interval="1s", config_dir=config_dir) as stack:
        wanted = {"training_iteration", "training_gpu_power_watts", "training_energy_joules_total", "up",
                  "run:training_energy_kwh:total", "gpu:training_gpu_memory_used:ratio"}
        try:
            stack.wait_until(lambda: wanted <= {s["__name__"] for s in sink.series()}, timeout=40,
                             what="the training series at the receiver")
        except TimeoutError as exc:
            pytest.fail(f"{exc}\nreceived: {sorted({s['__name__'] for s in sink.series()})}\n{exporter.output()}")
    received = sink.series()
    assert all(keep.fullmatch(s["__name__"]) for s in received), sorted({s["__name__"] for s in received})
    assert not any(s["__name__"].startswith(("prometheus_", "scrape_")) for s in received)
    assert all(s.get("lab") == "lab-a" for s in received)
    assert all(h.get("Content-Encoding") == "snappy" for h in sink.headers)
    (iteration,) = {s["run"] for s in received if s["__name__"] == "training_iteration"}
    assert iteration == RUN
