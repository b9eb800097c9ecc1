"""Following a log file: appends, partial lines, rotation, truncation, late files, junk."""

import os

from exporter.log.follow import LogFollower


def lines(follower):
    return [line for batch in follower.poll() for line in batch.lines]


def test_file_that_appears_late_is_read_live(tmp_path):
    path = tmp_path / "train.log"
    follower = LogFollower(str(path))
    assert lines(follower) == [] and not follower.present
    path.write_text("iter 0: loss 1.0, time 1.00ms\n")
    batches = list(follower.poll())
    assert follower.present
    assert [b.backfill for b in batches] == [False]
    assert batches[0].lines == ["iter 0: loss 1.0, time 1.00ms"]


def test_existing_file_is_a_backfill_then_appends_are_live(tmp_path):
    path = tmp_path / "train.log"
    path.write_text("a\nb\n")
    follower = LogFollower(str(path))
    first = list(follower.poll())
    assert [b.backfill for b in first] == [True] and first[0].lines == ["a", "b"]
    assert first[0].modified == os.stat(path).st_mtime
    with path.open("a") as f:
        f.write("c\n")
    second = list(follower.poll())
    assert [b.backfill for b in second] == [False] and second[0].lines == ["c"]


def test_partial_line_is_held_until_its_newline(tmp_path):
    path = tmp_path / "train.log"
    path.write_text("iter 1: loss 2.0, ti")
    follower = LogFollower(str(path))
    assert lines(follower) == []
    with path.open("a") as f:
        f.write("me 3.00ms\nnext")
    assert lines(follower) == ["iter 1: loss 2.0, time 3.00ms"]
    with path.open("a") as f:
        f.write("\n")
    assert lines(follower) == ["next"]


def test_rotation_drains_the_old_file_and_reads_the_new_one_from_its_start(tmp_path):
    path = tmp_path / "train.log"
    path.write_text("one\n")
    follower = LogFollower(str(path))
    assert lines(follower) == ["one"]
    with path.open("a") as f:
        f.write("two\n")
    os.rename(path, tmp_path / "train.log.1")
    assert lines(follower) == ["two"]  # renamed away, nothing new yet
    path.write_text("three\n")
    assert lines(follower) == ["three"]


def test_truncation_rewinds_including_copytruncate(tmp_path):
    path = tmp_path / "train.log"
    path.write_text("one\ntwo\n")
    follower = LogFollower(str(path))
    assert lines(follower) == ["one", "two"]
    with path.open("r+") as f:  # copytruncate: same inode, size drops to 0
        f.truncate(0)
    with path.open("a") as f:
        f.write("x\n")
    assert lines(follower) == ["x"]


def test_binary_junk_and_crlf_do_not_break_reading(tmp_path):
    path = tmp_path / "train.log"
    path.write_bytes(b"\xff\xfe\x00bad\nok\r\n\x00\x00\x00\nbar 1\rbar 2\rbar 3\n")
    got = lines(LogFollower(str(path)))
    assert got[1] == "ok"
    assert "\ufffd" in got[0] and got[2] == "\x00\x00\x00"
    assert got[3] == "bar 1\rbar 2\rbar 3"  # CR-separated updates stay one line for the bar parsers


def test_overlong_line_is_dropped_and_counted_with_bounded_memory(tmp_path):
    path = tmp_path / "train.log"
    with path.open("wb") as f:
        f.write(b"before\n")
        f.write(b"x" * (10 * 1024 * 1024))  # 10 MB without a newline
    follower = LogFollower(str(path), max_line_bytes=1024 * 1024, chunk_bytes=256 * 1024)
    batches = list(follower.poll())
    assert [line for b in batches for line in b.lines] == ["before"]
    assert sum(b.dropped for b in batches) == 1
    assert len(follower._partial) == 0
    with path.open("ab") as f:
        f.write(b"tail of the long line\nafter\n")
    batches = list(follower.poll())
    assert [line for b in batches for line in b.lines] == ["after"]
    assert sum(b.dropped for b in batches) == 0


def test_progress_bar_updates_are_passed_on_before_the_bar_ends_its_line(tmp_path):
    path = tmp_path / "train.log"
    path.write_text("")
    follower = LogFollower(str(path))
    lines(follower)
    with path.open("a") as f:
        f.write("\r 10%|#         | 10/100 [00:05<00:45, 2.00it/s]\r 20%|##        | 20/100 [00:10<00:40, 2.00it/s]")
    assert lines(follower) == [" 10%|#         | 10/100 [00:05<00:45, 2.00it/s]"]
    with path.open("a") as f:
        f.write("\r 30%|###       | 30/100 [00:15<00:35, 2.00it/s]")
    assert lines(follower) == [" 20%|##        | 20/100 [00:10<00:40, 2.00it/s]"]
    assert lines(follower) == []  # nothing new: nothing passed on twice
    with path.open("a") as f:
        f.write("\r{'loss': 2.31, 'epoch': 0.3}\n")
    # the whole line keeps the last bar before the logged dict, which gives the dict its step
    bar20 = " 20%|##        | 20/100 [00:10<00:40, 2.00it/s]"
    bar30 = " 30%|###       | 30/100 [00:15<00:35, 2.00it/s]"
    assert lines(follower) == [f"{bar20}\r{bar30}\r{{'loss': 2.31, 'epoch': 0.3}}"]


def test_a_crlf_line_split_before_its_newline_is_not_read_twice(tmp_path):
    path = tmp_path / "train.log"
    path.write_bytes(b"saving checkpoint to out\r")
    follower = LogFollower(str(path))
    assert lines(follower) == ["saving checkpoint to out"]  # at its \r: it may be an update of a bar
    with path.open("ab") as f:
        f.write(b"\nnext\n")
    assert lines(follower) == ["next"]


def test_a_deleted_log_is_no_longer_present(tmp_path):
    path = tmp_path / "train.log"
    path.write_text("a\n")
    follower = LogFollower(str(path))
    lines(follower)
    assert follower.present
    path.unlink()
    assert lines(follower) == [] and not follower.present
    path.write_text("b\n")
    assert lines(follower) == ["b"] and follower.present


def test_a_file_truncated_and_rewritten_longer_within_one_poll_is_read_from_its_start(tmp_path):
    path = tmp_path / "train.log"
    path.write_text("".join(f"old line {i}\n" for i in range(100)))
    follower = LogFollower(str(path))
    assert len([line for batch in follower.poll() for line in batch.lines]) == 100
    path.write_text("".join(f"new line {i}\n" for i in range(150)))  # truncated, then more than before
    lines = [line for batch in follower.poll() for line in batch.lines]
    assert lines == [f"new line {i}" for i in range(150)]


def test_a_grown_file_is_not_mistaken_for_a_rewritten_one(tmp_path):
    path = tmp_path / "train.log"
    path.write_text("first\n")
    follower = LogFollower(str(path))
    list(follower.poll())
    with path.open("a") as f:
        f.write("second\n")
    assert [line for batch in follower.poll() for line in batch.lines] == ["second"]


def test_a_directory_is_a_problem_that_names_the_fix(tmp_path, caplog):
    follower = LogFollower(str(tmp_path))
    assert list(follower.poll()) == []
    assert follower.present and "is a directory, not a log file" in follower.problem
    assert "--log out/train.log" in follower.problem
    list(follower.poll())
    assert caplog.text.count("is a directory") == 1  # said once, not at every poll


def test_an_unreadable_log_is_a_problem_that_names_the_uid_and_the_fix(tmp_path, monkeypatch):
    path = tmp_path / "train.log"
    path.write_text("iter 0: loss 1.0, time 1.0ms\n")

    def denied(*args, **kwargs):  # what open() says for a 0600 file of another user
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr("exporter.log.follow.open", denied, raising=False)
    follower = LogFollower(str(path))
    assert list(follower.poll()) == []
    assert follower.present
    assert f"uid {os.getuid()}" in follower.problem and f"chmod o+r {path}" in follower.problem
    monkeypatch.undo()
    assert [line for batch in follower.poll() for line in batch.lines] == ["iter 0: loss 1.0, time 1.0ms"]
    assert follower.problem is None


def test_updates_each_ended_by_a_carriage_return_are_passed_on_at_once(tmp_path):
    # print(f"{i}/{n} ...", end="\r"): the \r is the last byte of each update
    path = tmp_path / "train.log"
    path.write_text("")
    follower = LogFollower(str(path))
    lines(follower)
    for i in range(1, 4):
        with path.open("a") as f:
            f.write(f"iter {i}: loss 3.0, time 10.0ms\r")
        assert lines(follower) == [f"iter {i}: loss 3.0, time 10.0ms"]
    with path.open("a") as f:
        f.write("\ndone\n")
    assert lines(follower) == ["done"]


def test_a_two_megabyte_bar_of_carriage_return_updates_is_read_to_its_last_update(tmp_path):
    path = tmp_path / "train.log"
    updates = [f"{i}/100000 loss 3.0\r" for i in range(100_000)]
    path.write_text("".join(updates))
    assert path.stat().st_size > 2 << 20
    assert lines(LogFollower(str(path)))[-1] == "99999/100000 loss 3.0"
