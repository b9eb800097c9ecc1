"""JSON lines with default and configured field names."""

import math

import pytest

from exporter.events import Eval, Progress
from exporter.formats import jsonl, parser_for


def test_default_field_names():
    line = '{"step": 1300, "max_steps": 20000, "loss": 3.2871, "dt": 0.17, "tokens_per_second": 192000, "mfu": 0.31}'
    assert jsonl.parse(line) == Progress(iteration=1300, loss=3.2871, max_iterations=20000, iteration_seconds=0.17,
                                         tokens_per_second=192000.0, mfu_ratio=0.31)


def test_val_loss_line_is_an_eval_with_the_train_loss_beside_it():
    assert jsonl.parse('{"step": 500, "val_loss": 3.41}') == Eval({"val": 3.41}, iteration=500)
    assert jsonl.parse('{"step": 500, "loss": 3.39, "val_loss": 3.41}') == Eval({"val": 3.41, "train": 3.39}, iteration=500)


def test_configured_names_with_nested_and_slashed_keys():
    parse = parser_for("jsonl", jsonl_fields={
        "iteration": "it", "loss": "train/loss", "iteration_seconds": "timing.step_s", "elapsed_seconds": "wall"})
    assert parse('{"it": 7, "train/loss": 4.5, "timing": {"step_s": 0.25}, "wall": 1.75}') == Progress(
        iteration=7, loss=4.5, iteration_seconds=0.25, elapsed_seconds=1.75)


def test_string_numbers_and_nan():
    event = jsonl.parse('{"step": "12", "loss": "NaN", "dt": "0.5"}')
    assert event.iteration == 12 and event.loss != event.loss


def test_unknown_field_is_named():
    with pytest.raises(ValueError, match="iters"):
        parser_for("jsonl", jsonl_fields={"iters": "it"})


@pytest.mark.parametrize("line", [
    '{"loss": 3.2}',  # no iteration
    '{"step": 1.5, "loss": 3.2}',
    '{"step": -1, "loss": 3.2}',
    '{"step": true, "loss": 3.2}',
    "[1, 2, 3]",
    "{'step': 1, 'loss': 3.2}",  # a Python dict, not JSON
    '{"step": 1, "loss": ',
    "iter 1: loss 3.2, time 170.00ms",
])
def test_other_lines_are_not_progress(line):
    # None exactly: not a Progress, and not an Eval either
    assert jsonl.parse(line) is None


def test_the_gradient_norm_is_read_and_renamed_like_the_other_fields():
    assert jsonl.parse('{"step": 7, "loss": 2.5, "grad_norm": 0.75}').grad_norm == 0.75
    renamed = jsonl.parser({"grad_norm": "train/grad_norm"})
    assert math.isnan(renamed('{"step": 7, "loss": 2.5, "train/grad_norm": "nan"}').grad_norm)  # a spike: kept
    assert jsonl.parse('{"step": 7, "loss": 2.5, "grad_norm": -1}').grad_norm is None
