"""The page's chart history read back from the log: a restarted exporter draws the run from its
first line, bounded and thinned, the latest training from scratch only, live points after it."""

from exporter.run import RunSnapshot
from exporter.web.backfill import log_points
from exporter.web.history import History
from nanogpt_fixture import preamble, progress_lines


def test_the_whole_run_is_read_back_with_its_val_losses_and_typical_step_time(tmp_path):
    log = tmp_path / "train.log"
    log.write_text("\n".join(preamble() + progress_lines(0, 1300)) + "\n")
    points = log_points(str(log), "nanogpt")
    assert points[0][1] == 0 and points[-1][1] == 1300 and len(points) == 131  # a line each 10 iterations
    vals = sorted({p[3] for p in points if p[3] is not None})
    assert len(vals) == 3  # evals at 0, 500, 1000
    assert all(0.15 < p[4] < 0.2 for p in points[20:])  # the median of recent lines: not an eval's long one
    assert points == log_points(str(log), "unknown")  # the format detected again where it is not known


def test_only_the_latest_training_from_scratch_and_a_missing_log_gives_nothing(tmp_path):
    log = tmp_path / "train.log"
    log.write_text("\n".join(preamble() + progress_lines(0, 600) + preamble() + progress_lines(0, 200)) + "\n")
    points = log_points(str(log), "nanogpt")
    assert points[0][1] == 0 and points[-1][1] == 200 and len(points) == 21
    assert log_points(str(tmp_path / "nope.log"), "nanogpt") == []


def test_a_long_log_is_bounded_and_still_covers_it_and_live_points_come_after(tmp_path):
    log = tmp_path / "train.log"
    log.write_text("\n".join(preamble() + progress_lines(0, 20_000)) + "\n")
    history = History(max_points=100)
    snapshot = RunSnapshot(run="r", format="nanogpt", log_path=str(log), state="running", iteration=19_990, loss=2.0)
    history.record(snapshot, None, 1.0)  # taken live while the log was being read
    points = log_points(str(log), "nanogpt", max_points=100)
    assert len(points) <= 100 and points[0][1] == 0 and points[-1][1] == 20_000  # thinned as it is read
    history.fill("r", points)
    later = RunSnapshot(run="r", format="nanogpt", log_path=str(log), state="running", iteration=20_010, loss=2.0)
    history.record(later, None, 2.0)
    iterations = [p[1] for p in history.points()]
    assert len(iterations) <= 100 and iterations[0] == 0 and iterations[-1] == 20_010
    assert iterations == sorted(iterations)
    assert max(b - a for a, b in zip(iterations, iterations[1:])) <= 20_000 / 100 * 4  # evenly thinned
