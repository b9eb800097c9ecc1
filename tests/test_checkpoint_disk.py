"""The checkpoint disk: where the trainer saves (flag, its out_dir from the log or config, found
from where the log is), the free space (a patched ``statvfs``: a disk that fills after k saves),
the saves that fit, the metrics of a collector that fails on its own, and CheckpointDiskWillFill
before the save that would fail, with its Slack text."""

import os
from types import SimpleNamespace

import pytest

from exporter.alerts.engine import AlertEngine
from exporter.alerts.operations import Operations
from exporter.collectors.base import CollectorStats
from exporter.collectors.checkpoint import CheckpointCollector
from exporter.collectors.training import TrainingCollector
from exporter.health.checkpoint_disk import UNBOUNDED, CheckpointDisk, saves_that_fit, will_fill
from exporter.notify.messages import text, title
from exporter.run import RunModel
from exporter.run_set.checkpoints import CheckpointProbe
from exporter.trainer import checkpoints
from test_alerts_engine import Heard

T0 = 1_800_000_000.0
MIB = 2**20
SIZE = 50 * MIB


def test_saves_that_fit_where_every_save_is_kept():
    assert saves_that_fit(CheckpointDisk(free_bytes=int(3.5 * SIZE), latest_bytes=SIZE, entries=4), 4) == 3
    assert saves_that_fit(CheckpointDisk(int(3.5 * SIZE), SIZE, 1), 1) == 3  # one save yet: assume kept


def test_one_file_overwritten_needs_room_for_one_checkpoint_at_a_time():
    assert saves_that_fit(CheckpointDisk(SIZE, SIZE, 1), 5) == UNBOUNDED
    assert saves_that_fit(CheckpointDisk(SIZE - 1, SIZE, 1), 5) == 0
    assert saves_that_fit(CheckpointDisk(10 * SIZE, SIZE, 3), 9) == UNBOUNDED  # the last 3 kept
    assert saves_that_fit(CheckpointDisk(int(3.5 * SIZE), SIZE, 1), 2) == 3  # the second save not yet written


def test_nothing_to_say_before_a_checkpoint_or_without_saves_to_come():
    assert saves_that_fit(CheckpointDisk(SIZE, None, 0), 0) is None
    assert not will_fill(None, 5) and not will_fill(2, None) and not will_fill(3, 3) and will_fill(2, 3)


def test_the_directory_is_the_flag_else_out_dir_from_the_log_folder_else_the_log_folder_with_a_checkpoint(tmp_path):
    trainer = tmp_path / "nanoGPT"
    (trainer / "out-shakespeare").mkdir(parents=True)
    log = trainer / "train.log"
    assert checkpoints.resolve("/ckpt", "out", str(log)) == "/ckpt"
    assert checkpoints.resolve(None, "out-shakespeare", str(log)) == str(trainer / "out-shakespeare")
    inside = trainer / "out-shakespeare" / "train.log"  # the log inside out_dir
    assert checkpoints.resolve(None, "out-shakespeare", str(inside)) == str(trainer / "out-shakespeare")
    mounted = tmp_path / "logs"  # a container that mounts out_dir, log and checkpoints, as /logs
    mounted.mkdir()
    assert checkpoints.resolve(None, "out", str(mounted / "train.log")) is None
    (mounted / "ckpt.pt").write_bytes(b"x")
    assert checkpoints.resolve(None, "out", str(mounted / "train.log")) == str(mounted)


def test_the_latest_checkpoint_is_the_newest_file_or_folder(tmp_path):
    (tmp_path / "ckpt_old.pt").write_bytes(b"x" * 10)
    os.utime(tmp_path / "ckpt_old.pt", (1, 1))
    folder = tmp_path / "checkpoint-500"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"x" * 300)
    (folder / "optimizer.pt").write_bytes(b"x" * 200)
    (tmp_path / "train.log").write_text("not a checkpoint\n")
    reading = checkpoints.read(str(tmp_path))
    assert (reading.latest_bytes, reading.entries) == (500, 2) and reading.free_bytes > 0


class FillingDisk:
    """``statvfs`` of a disk with ``capacity`` bytes of which the files under ``root`` take their size."""

    def __init__(self, root, capacity):
        self.root, self.capacity = root, capacity

    def __call__(self, path):
        used = sum(f.stat().st_size for f in self.root.rglob("*") if f.is_file())
        return SimpleNamespace(f_bavail=(self.capacity - used) // 4096, f_frsize=4096)


def _play(tmp_path, monkeypatch, capacity, expositions=None):
    """A nanoGPT run (eval and save every 500 of 5000 iterations, each save a new 50 MiB file) on a
    disk of ``capacity``; ticks after each line. Returns what Slack heard and the ticks' figures;
    ``expositions`` (a list) gets each tick's families of the training and checkpoint collectors."""
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setattr(checkpoints.os, "statvfs", FillingDisk(out, capacity))
    model, probe, heard = RunModel("gpt2", str(tmp_path / "train.log")), CheckpointProbe(clock=iter(range(0, 10**7, 10)).__next__), Heard()
    engine, seen = AlertEngine(notifier=heard), []
    lines = ["Overriding: max_iters = 5000", "Overriding: eval_interval = 500"]
    for iteration in range(0, 5001, 100):
        if iteration % 500 == 0:
            lines.append(f"step {iteration}: train loss 3.1000, val loss 3.2000")
            if iteration:
                lines.append(f"saving checkpoint to {out}")
        lines.append(f"iter {iteration}: loss 3.0000, time 400.00ms, mfu 30.00%")
    for second, line in enumerate(lines):
        if line.startswith("saving checkpoint"):
            free = FillingDisk(out, capacity)(None).f_bavail * 4096
            if free < SIZE:
                seen.append(("save failed", model.counts.checkpoints + 1))
                break
            (out / f"ckpt_{model.counts.checkpoints + 1:03d}.pt").write_bytes(b"\0" * SIZE)
        model.feed_line(line, T0 + second)
        snapshot = model.snapshot(T0 + second)
        status = probe.status(snapshot)[0]
        engine.tick(snapshot, (), T0 + second, Operations(None, status))
        seen.append((snapshot.checkpoints, status and status.saves_fit, status and status.saves_to_come))
        if expositions is not None:
            stats = CollectorStats()
            expositions.append([f for c in (TrainingCollector(stats), CheckpointCollector(stats, probe))
                                for f in c.collect(snapshot)])
    return heard, seen


def test_a_disk_that_fills_after_4_saves_warns_after_the_first_and_pages_before_the_fifth(tmp_path, monkeypatch):
    heard, seen = _play(tmp_path, monkeypatch, capacity=int(4.5 * SIZE))
    fired = [n for n in heard.notifications if n.status == "firing"]
    assert [(n.alert.name, n.alert.label("next_save")) for n in fired] == [
        ("CheckpointDiskWillFill", "fits"), ("CheckpointDiskWillFill", "fails")]
    warning, page = fired
    assert warning.alert.summary == "Run gpt2: the checkpoint disk fills before the run ends (only 3 more saves fit)"
    assert (1, 3, 9) in seen  # after the first save: 3 fit, 9 to come
    assert seen[-1] == ("save failed", 5)
    assert (4, 0, 7) in seen[:-1]  # paged after the 4th save, before the 5th
    assert title(page) == "CRITICAL: CheckpointDiskWillFill · run gpt2"
    body = text(page, "http://page")
    assert ("*Run gpt2: the checkpoint disk fills before the run ends (the next save will fail)*\n"
            f"The checkpoint directory {tmp_path / 'out'} of run gpt2 has 0.0 GiB free; a checkpoint takes 0.05 GiB "
            "and 7 save(s) are still to come, so the next save will fail. Check first: free space on that disk") in body


def test_a_disk_with_room_for_every_save_stays_quiet(tmp_path, monkeypatch):
    heard, seen = _play(tmp_path, monkeypatch, capacity=20 * SIZE)
    assert heard.notifications == [] and seen[-1][0] == 10


def test_the_collector_exports_the_figures_and_fails_alone_on_a_directory_it_cannot_read(tmp_path):
    (tmp_path / "ckpt.pt").write_bytes(b"\0" * 1000)
    snapshot = RunModel("gpt2", str(tmp_path / "train.log")).snapshot(T0)
    stats = CollectorStats()
    families = {f.name: f for f in CheckpointCollector(stats, CheckpointProbe(str(tmp_path))).collect(snapshot)}
    assert families["training_checkpoint_bytes"].samples[0].value == 1000
    assert families["training_checkpoint_disk_free_bytes"].samples[0].value > 0
    assert families["training_checkpoint_info"].samples[0].labels == {"run": "gpt2", "path": str(tmp_path)}
    assert stats.last("checkpoint_disk")[0] is True
    missing = CheckpointCollector(stats, CheckpointProbe(str(tmp_path / "gone")))
    assert list(missing.collect(snapshot)) == [] and stats.last("checkpoint_disk")[0] is False
    assert CheckpointProbe(str(tmp_path / "gone")).status(snapshot)[1].startswith("cannot read the checkpoint directory")
