"""Auto-detection: each format's progress line is claimed by its own parser only, and a reader
detects the format from the first progress line, replaying what it held back."""

import pytest

from exporter.events import Eval, Progress
from exporter import formats
from exporter.formats import DETECTABLE, FormatReader, parser_for

PROGRESS_LINES = {
    "nanogpt": "iter 1300: loss 3.2871, time 170.42ms, mfu 31.52%",
    "llmc": "step  120/18865 | loss 5.123456 (+0.12z)| norm 0.5123 (-0.50z)| lr 1.44e-04 | 345.67 ms | 48.3% bf16 MFU | 1516730 tok/s",
    "modded": "step:370/1393 train_time:45678ms step_avg:123.45ms",
    "nanochat": "step 00042/21400 (0.20%) | loss: 6.123456 | lrm: 1.00 | dt: 512.34ms | tok/sec: 1,023,456 | bf16_mfu: 45.12 | total time: 2.56m",
    "lightning": "\rEpoch 3:  45%|████▌     | 450/1000 [01:40<02:02,  4.50it/s, v_num=1, train_loss=2.310]",
    "hf": "\r 37%|███▋      | 370/1000 [02:13<03:47,  2.77it/s]",
    "jsonl": '{"step": 1300, "loss": 3.2871, "dt": 0.17}',
}
MAIN_LOG = "s:41 trl:7.012345 lr:0.000600 norm:1.23"


def test_every_detectable_format_has_a_sample():
    assert set(PROGRESS_LINES) == set(DETECTABLE)


@pytest.mark.parametrize("owner", list(PROGRESS_LINES))
def test_a_progress_line_is_claimed_by_its_own_format_only(owner):
    claimed = [name for name, parse in DETECTABLE.items() if isinstance(parse(PROGRESS_LINES[owner]), Progress)]
    assert claimed == [owner]


def test_llmc_python_step_line_is_read_by_modded_too_and_detected_as_llmc():
    line = "step    7/5100 | train loss 9.012345 | norm 3.4567 | lr 4.20e-05 | (234.56 ms | 2235294 tok/s)"
    claimed = [name for name, parse in DETECTABLE.items() if isinstance(parse(line), Progress)]
    assert claimed == ["llmc", "modded"]
    reader = FormatReader()
    list(reader.feed(line))
    assert reader.name == "llmc"


def _detect(lines):
    reader = FormatReader()
    events = [event for line in lines for event in reader.feed(line)]
    return reader.name, events


@pytest.mark.parametrize("name, preamble", [
    ("nanogpt", ["tokens per iteration will be: 524,288", "step 0: train loss 10.9, val loss 10.9"]),
    ("llmc", ["| Parameter             | Value                                              |", "val loss 10.9812"]),
    ("modded", ['    print0(f"step:{step}/{train_steps} train_time:{t:.0f}ms", console=True)',
                "step:0/1393 val_loss:10.8258 train_time:0ms step_avg:nanms"]),
    ("nanochat", ["Tokens / micro-batch: 524,288", "Step 00000 | Validation bpb: 3.2012"]),
    ("lightning", ["\rSanity Checking DataLoader 0: 100%|██████████| 2/2 [00:00<00:00,  9.81it/s]"]),
    ("hf", ["{'eval_loss': 10.9, 'eval_runtime': 5.1, 'epoch': 0.0}", "\r 50%|█████     | 5/10 [00:00<00:00, 20.00it/s]\x1b[A"]),
    ("jsonl", ['{"step": 0, "val_loss": 10.9}']),
])
def test_reader_detects_each_format_and_replays_held_lines(name, preamble):
    detected, events = _detect([*preamble, PROGRESS_LINES[name]])
    assert detected == name
    assert isinstance(events[-1], Progress)
    # held-back lines come back through the detected parser, in order, before the progress line
    assert len(events) == len(preamble) + 1


def test_held_back_eval_is_replayed():
    detected, events = _detect(["step:0/1393 val_loss:10.8258 train_time:0ms step_avg:nanms", PROGRESS_LINES["modded"]])
    assert detected == "modded" and events[0] == Eval({"val": 10.8258}, iteration=0)


def test_llmc_main_log_is_detected():
    detected, events = _detect(["s:0 tel:10.968871", MAIN_LOG])
    assert detected == "llmc" and events == [Eval({"val": 10.968871}, iteration=0), Progress(iteration=42, loss=7.012345, grad_norm=1.23)]


def test_nothing_is_detected_from_lines_no_format_reads():
    detected, events = _detect(["Compiling model and warming up kernels", "{'loss': 2.3, 'epoch': 0.1}", "it 5 loss=2.1"])
    assert detected is None and events == []


def test_custom_format_is_never_guessed_and_needs_its_file(tmp_path):
    assert "custom" not in DETECTABLE
    with pytest.raises(ValueError, match="custom_format_file"):
        parser_for("custom")
    path = tmp_path / "f.yml"
    path.write_text("progress: '^it (?P<iteration>\\d+)'\n")
    reader = FormatReader.open("custom", custom_format_file=str(path))
    assert list(reader.feed("it 5")) == [Progress(iteration=5)]


def test_forced_format_reads_only_its_own_lines():
    reader = FormatReader.open("modded")
    assert list(reader.feed(PROGRESS_LINES["nanogpt"])) == [None]
    assert reader.name == "modded"


def test_unknown_format_names_the_known_ones():
    with pytest.raises(ValueError, match="nanochat"):
        parser_for("fairseq")


def test_the_detection_backlog_is_capped_in_bytes_and_counts_what_it_drops():
    reader = FormatReader()
    megabyte = "a" * 1_000_000
    for _ in range(300):
        assert list(reader.feed(megabyte)) == []
        assert reader.held_bytes <= formats._DETECTION_BACKLOG_BYTES
    assert reader.held == 8 and reader.held + reader.dropped == 300
    events = list(reader.feed(PROGRESS_LINES["nanogpt"]))
    assert events[:-1] == [None] * 8 and isinstance(events[-1], Progress)
    assert reader.held == reader.held_bytes == 0 and reader.dropped == 292


def test_the_detection_backlog_keeps_the_newest_lines():
    reader = FormatReader()
    for index in range(formats._DETECTION_BACKLOG + 5):
        list(reader.feed(f"line {index}"))
    assert (reader.held, reader.dropped) == (formats._DETECTION_BACKLOG, 5)


def test_the_reader_says_which_formats_it_tries():
    reader = FormatReader()
    assert reader.tried == tuple(DETECTABLE)
    list(reader.feed(PROGRESS_LINES["hf"]))
    assert reader.tried == ("hf",)
    assert FormatReader.open("modded").tried == ("modded",)


def test_a_preamble_is_told_from_a_log_no_format_reads():
    reader = FormatReader()
    list(reader.feed("Compiling model and warming up kernels"))
    assert not reader.preamble_seen
    list(reader.feed("tokens per iteration will be: 524,288"))
    assert reader.preamble_seen and reader.name is None
