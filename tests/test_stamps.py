"""Lines prefixed with their Unix time (``ts '%.s'``): the prefix is the line's arrival time, and
`status` reading such a log afterwards measures the eval pauses a trainer's clock leaves out."""

import json

import pytest

from exporter.log import stamps
from exporter.commands.cli import main


def test_a_prefix_is_split_off_as_the_arrival_time():
    assert stamps.split("1764633600.123456 step:10/100 train_time:1000ms step_avg:100.00ms") == (
        1764633600.123456, "step:10/100 train_time:1000ms step_avg:100.00ms")
    assert stamps.split("1764633600 iter 5: loss 2.0000, time 170.00ms") == (1764633600.0,
                                                                          "iter 5: loss 2.0000, time 170.00ms")


@pytest.mark.parametrize("line", [
    "12345 tokens seen", "20000 iterations", "1764633600step:1/2", "17646336001234 x", " 1764633600 x",
    "iter 1764633600: loss 2.0", "", "1764633600.",
])
def test_what_is_not_a_stamp_is_left_alone(line):
    assert stamps.split(line) == (None, line)


class Sink:
    def __init__(self):
        self.fed = []

    def feed_lines(self, lines, arrived):
        self.fed.append((lines, arrived))


def test_each_stamped_line_goes_at_its_stamp_and_the_rest_at_the_reads_time():
    sink = Sink()
    stamps.feed(sink, ["1764633600.5 a", "1764633600.5 b", "c", "1764633601 d"], None)
    assert sink.fed == [(["a", "b"], 1764633600.5), (["c"], None), (["d"], 1764633601.0)]


def test_an_unstamped_read_goes_in_one_piece():
    sink = Sink()
    lines = ["iter 1: loss 2.0, time 100.00ms", "1764633600 stamped further down"]
    stamps.feed(sink, lines, 42.0)
    assert sink.fed == [(lines, 42.0)]


def modded_log_with_evals(path, steps=400, eval_every=50, eval_seconds=5.0):
    """A modded-nanogpt run at 100 ms a step whose validation (not in ``train_time``) takes 5 s."""
    now, out = 1764633600.0, []
    out.append(f"{now:.3f} step:0/{2 * steps} val_loss:10.8258 train_time:0ms step_avg:nanms")
    for step in range(1, steps + 1):
        now += 0.1
        out.append(f"{now:.3f} step:{step}/{2 * steps} train_time:{step * 100}ms step_avg:100.00ms")
        if step % eval_every == 0:
            now += eval_seconds
            out.append(f"{now:.3f} step:{step}/{2 * steps} val_loss:4.0000 train_time:{step * 100}ms "
                       "step_avg:100.00ms")
    path.write_text("\n".join(out) + "\n")


def test_status_counts_the_eval_pauses_the_trainers_clock_leaves_out(tmp_path, capsys):
    log = tmp_path / "train.log"
    modded_log_with_evals(log)
    status = main(["status", str(log), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert status == (3 if report["state"] == "stalled" else 0)  # its stamps are long past: stalled, exit 3
    assert report["iteration"] == 400 and report["max_iterations"] == 800
    # 400 steps × 0.1 s + 8 evals × 5 s (at 450 … 800): 80 s; without the pauses it would be 40 s
    assert report["eta_seconds"] == pytest.approx(80, rel=0.05)


def test_status_of_the_same_log_without_stamps_cannot_see_the_pauses(tmp_path, capsys):
    log = tmp_path / "train.log"
    modded_log_with_evals(log)
    log.write_text("".join(line.split(" ", 1)[1] + "\n" for line in log.read_text().splitlines()))
    assert main(["status", str(log), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["eta_seconds"] == pytest.approx(40, rel=0.05)
