"""The live page's data names the alerts the exporter's own engine has firing, without Slack."""

import time

import requests

from exporter_process import ExporterProcess
from nanogpt_fixture import progress_lines


def test_api_run_lists_a_crash_the_engine_fired(tmp_path):
    log = tmp_path / "train.log"
    log.write_text("".join(line + "\n" for line in progress_lines(0, 200))
                   + "Traceback (most recent call last):\n"
                   + "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB\n")
    with ExporterProcess("--log", str(log), "--run", "oom", "--alert-for-cap-seconds", "1",
                         "--gpu-sample-interval-seconds", "0.2") as exporter:
        exporter.wait_for('training_state{run="oom",state="crashed"} 1.0')
        api = exporter.url.replace("/metrics", "/api/run")
        deadline, alerts = time.monotonic() + 20, []
        while time.monotonic() < deadline and not alerts:
            alerts = requests.get(api, timeout=5).json()["alerts"] or []
            time.sleep(0.2)
        assert [a["name"] for a in alerts] == ["TrainingCrashed"]
        assert alerts[0]["severity"] == "critical" and "out of memory" in alerts[0]["summary"].lower()
        assert 'training_exporter_alerts_firing{alertname="TrainingCrashed"} 1.0' in exporter.scrape()
