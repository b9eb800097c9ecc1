"""No false alarms on healthy runs: the repository's own generated logs of every format, replayed
live line by line by benchmarks/slowdown_replay.py (the real logs of ../shared/ are replayed by the
same script from the command line, never by the test suite), raise none of the operations alerts;
a run with a 40 % slowdown replayed the same way is noted."""

import pytest

from benchmarks.slowdown_replay import replay, stretched
from fixtures_formats import GENERATORS, Truth, generate
from health_scenarios import nanogpt_lines

OPERATIONS = ("TrainingSlowdown", "CheckpointDiskWillFill", "TrainingOverBudget")
LONG = Truth(total_steps=4000, step_seconds=0.5, eval_interval=500)  # 33 min of training


@pytest.mark.parametrize("name", sorted(set(GENERATORS) - {"custom", "jsonl"}))  # those need their options
@pytest.mark.parametrize("gpu", [False, True], ids=["no GPU", "steady GPU"])
def test_a_generated_healthy_log_raises_no_operations_alert(name, gpu, tmp_path):
    path = tmp_path / f"{name}.log"
    path.write_text(generate(name, LONG).text())
    result = replay(path, gpu=gpu)
    assert result["baseline_ms"] is not None or name == "llmc-main-log"  # its main.log has no step times
    assert [alert for alert in result["alerts"] if alert.startswith(OPERATIONS)] == []


def test_a_replayed_slowdown_without_gpu_readings_is_an_unknown_cause(tmp_path):
    path = tmp_path / "slow.log"
    path.write_text("\n".join(line for _, line in nanogpt_lines(lambda i: 0.4 if i < 1000 else 0.56, 3000)))
    assert replay(path)["alerts"] == ["TrainingSlowdown{cause=unknown}"]
    assert replay(path, gpu=True)["alerts"] == []  # the GPU as busy as before: the trainer's own work


def test_stretching_scales_every_millisecond_figure():
    assert stretched("step:26/1775 train_time:1053ms step_avg:40.52ms", 10) == \
        "step:26/1775 train_time:10530.00ms step_avg:405.20ms"
