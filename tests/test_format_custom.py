"""User-defined formats: YAML patterns checked at load, named groups filling event fields."""

import pytest

from exporter.events import Checkpoint, Eval, Progress, RunEnd, TrainerError
from exporter.formats import custom, parser_for

SPEC = r"""
progress:
  - '^it (?P<iteration>\d+)/(?P<max_iterations>\d+) loss=(?P<loss>\S+) (?P<iteration_ms>[\d.]+)ms'
  - '^epoch-step (?P<iteration>\d+) took (?P<iteration_seconds>[\d.]+)s, (?P<tokens_per_second>[\d,]+) tok/s, mfu (?P<mfu_percent>[\d.]+)%'
eval: '^eval @ (?P<iteration>\d+): val=(?P<val_loss>\S+) train=(?P<train_loss>\S+)'
checkpoint: '^saved checkpoint (?P<iteration>\d+)'
end: '^done in (?P<wall_seconds>[\d.]+)s'
oom: 'ran out of memory'
crash: '^FATAL'
"""


@pytest.fixture
def parse(tmp_path):
    path = tmp_path / "mytrainer.yml"
    path.write_text(SPEC)
    return parser_for("custom", custom_format_file=str(path))


def test_progress_patterns(parse):
    assert parse("it 1300/20000 loss=3.2871 170.5ms") == Progress(iteration=1300, loss=3.2871, max_iterations=20000,
                                                                 iteration_seconds=pytest.approx(0.1705))
    assert parse("epoch-step 12 took 0.25s, 1,048,576 tok/s, mfu 41.5%") == Progress(
        iteration=12, iteration_seconds=0.25, tokens_per_second=1048576.0, mfu_ratio=pytest.approx(0.415))


def test_other_patterns(parse):
    assert parse("eval @ 500: val=3.41 train=3.39") == Eval({"val": 3.41, "train": 3.39}, iteration=500)
    assert parse("saved checkpoint 500") == Checkpoint(iteration=500)
    assert parse("done in 3600.5s") == RunEnd(wall_seconds=3600.5)
    assert parse("worker 0 ran out of memory") == TrainerError("oom")
    assert parse("FATAL: NCCL timeout") == TrainerError("traceback")
    assert parse("it x/y loss=? ms") is None


def test_every_problem_is_reported_at_once_and_names_the_pattern():
    spec = {
        "progress": ["(?P<iteration>\\d+", "(?P<step>\\d+)"],
        "eval": "(?P<iteration>\\d+)",
        "evals": "x",
    }
    with pytest.raises(custom.CustomFormatError) as caught:
        custom.compile_format(spec, "bad.yml")
    message = str(caught.value)
    assert "bad.yml" in message
    assert "progress[0]: not a valid regular expression" in message
    assert "progress[1]: unknown group(s) step" in message and "progress[1]: needs the named group(s) iteration" in message
    assert "eval: needs a val_loss or train_loss group" in message
    assert "evals: unknown pattern name" in message
    assert len(caught.value.problems) == 5


def test_progress_is_required_and_top_level_must_be_a_mapping():
    with pytest.raises(custom.CustomFormatError, match="progress: required"):
        custom.compile_format({"eval": "(?P<val_loss>x)"}, "f.yml")
    with pytest.raises(custom.CustomFormatError, match="top level"):
        custom.compile_format(["x"], "f.yml")


def test_unreadable_and_invalid_yaml_files(tmp_path):
    with pytest.raises(custom.CustomFormatError, match="cannot read"):
        custom.load(str(tmp_path / "missing.yml"))
    bad = tmp_path / "bad.yml"
    bad.write_text("progress: [unclosed\n")
    with pytest.raises(custom.CustomFormatError, match="not valid YAML"):
        custom.load(str(bad))


def test_a_grad_norm_group_fills_the_gradient_norm():
    parse = custom.compile_format({"progress": r"^it (?P<iteration>\d+) loss=(?P<loss>\S+) gn=(?P<grad_norm>\S+)"}, "spec")
    assert parse("it 12 loss=2.5 gn=1.25") == Progress(iteration=12, loss=2.5, grad_norm=1.25)
