"""The real ``serve`` end to end, with a stand-in NVML library (tests/fake_nvml.py): a nanoGPT log
whose last 5+ minutes of training ran 40 % slow while the GPU throttles for heat gives the cause
in /metrics, the line under the iteration time in /api/run, and one Slack message naming the
cause and the cost in ETA, sent by the exporter itself; the checkpoint disk and the budget show
in /metrics and /api/run too."""

import json

import requests

from exporter_process import ExporterProcess
from fake_nvml import FakeGpu, pynvml_source
from health_scenarios import nanogpt_lines
from slack_sink import SlackSink


def test_a_throttled_slow_run_is_named_on_every_surface(tmp_path):
    log = tmp_path / "train.log"
    log.write_text("\n".join(line for _, line in nanogpt_lines(lambda i: 0.4 if i < 1000 else 0.56, 2600,
                                                               eval_interval=500)) + "\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "ckpt.pt").write_bytes(b"\0" * 4096)
    shim = tmp_path / "nvml"
    shim.mkdir()
    (shim / "pynvml.py").write_text(pynvml_source([FakeGpu(uuid="GPU-0", active_reasons=0x4 | 0x20)]))
    sink = SlackSink()
    try:
        with ExporterProcess("--log", str(log), "--run", "gpt2", "--max-iters", "5000", "--checkpoint-dir", str(out),
                             "--budget", "40", "--gpu-sample-interval-seconds", "0.2",
                             "--slack-webhook-file", sink.write_webhook_file(tmp_path / "webhook"),
                             import_first=shim) as exporter:
            metrics = exporter.wait_for('training_slowdown_cause{cause="thermal",run="gpt2"} 1.0')
            assert 'training_iteration_baseline_seconds{run="gpt2"} 0.4' in metrics
            assert 'training_iteration_slow_seconds{run="gpt2"} 0.56' in metrics
            assert 'training_checkpoint_bytes{run="gpt2"} 4096.0' in metrics
            assert 'training_checkpoint_saves_to_come{run="gpt2"} 5.0' in metrics
            assert 'training_budget{currency="USD",node=' in metrics
            sink.wait_for(lambda s: any("TrainingSlowdown" in t for t in s.titles()), 20, "the slowdown message")
            (message,) = [b["attachments"][0] for b in sink.accepted() if "TrainingSlowdown" in b["attachments"][0]["title"]]
            assert message["title"] == "WARNING: TrainingSlowdown · run gpt2"
            assert message["text"].startswith("*Run gpt2 is 40 % slower than its baseline: the GPU is throttling for heat")
            assert "since iteration 1030: the GPU is throttling for heat (thermal slowdown active); +6 min to the " \
                   "finish. Check first: fans and airflow" in message["text"]
            page = json.loads(requests.get(f"http://127.0.0.1:{exporter.port}/api/run", timeout=5).text)
            assert page["health"]["slowdown"]["cause"] == "thermal"
            assert page["health"]["slowdown"]["text"].startswith("Step time +40 % over this run's baseline (400 ms → 560 ms)")
            assert page["health"]["checkpoint"]["latest_bytes"] == 4096 and page["energy"]["budget"] == 40
    finally:
        sink.close()
