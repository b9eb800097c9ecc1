"""Hugging Face Trainer output: tqdm bar updates separated by \\r, logged dicts (4.x floats, 5.x strings)."""

import math

import pytest

from exporter.events import Eval, Loss, Progress, RunEnd
from exporter.formats import hf

BAR_370 = " 37%|███▋      | 370/1000 [02:13<03:47,  2.77it/s]"


def test_single_bar_update():
    assert hf.parse(BAR_370) == Progress(iteration=370, max_iterations=1000, elapsed_seconds=133.0, includes_eval=True)


def test_last_of_many_carriage_return_updates_counts():
    line = ("\r  0%|          | 0/1000 [00:00<?, ?it/s]"
            "\r  0%|          | 1/1000 [00:03<52:00,  3.12s/it]"
            f"\r{BAR_370}"
            "\r 37%|███▋      | 371/1000 [02:13<03:47,  2.77it/s]")
    assert hf.parse(line).iteration == 371


def test_seconds_per_iteration_and_hours():
    event = hf.parse(" 12%|█▏        | 120/1000 [1:02:03<7:35:02, 31.05s/it]")
    assert (event.iteration, event.elapsed_seconds) == (120, 3723.0)


def test_unknown_rate_at_start():
    assert hf.parse("  0%|          | 0/1000 [00:00<?, ?it/s]") == Progress(iteration=0, max_iterations=1000, elapsed_seconds=0.0,
                                                                           includes_eval=True)


def test_incomplete_last_update_falls_back_to_the_previous_complete_one():
    assert hf.parse(f"\r{BAR_370}\r 37%|███▋      | 371/10").iteration == 370


def test_loss_dict_after_a_bar_on_the_same_line_4x_floats():
    line = f"\r{BAR_370}\r{' ' * 60}\r{{'loss': 2.3456, 'grad_norm': 1.23, 'learning_rate': 4.5e-05, 'epoch': 0.5}}"
    assert hf.parse(line) == Progress(iteration=370, loss=2.3456, max_iterations=1000, elapsed_seconds=133.0,
                                      includes_eval=True, grad_norm=1.23)


def test_loss_dict_5x_quoted_strings():
    line = f"\r{BAR_370}\r{' ' * 60}\r{{'loss': '2.346', 'grad_norm': '1.23', 'learning_rate': '4.5e-05', 'epoch': '0.5'}}"
    assert hf.parse(line).loss == pytest.approx(2.346)


def test_loss_dict_alone_has_no_step_but_still_reports_the_loss():
    # disable_tqdm or a block-buffered stdout: the dict comes without the bar that gives its step
    assert hf.parse("{'loss': 2.3456, 'grad_norm': 1.23, 'learning_rate': 4.5e-05, 'epoch': 0.5}") == Loss(2.3456, grad_norm=1.23)


def test_eval_dicts():
    assert hf.parse("{'eval_loss': 2.1234, 'eval_runtime': 5.12, 'eval_samples_per_second': 97.6, 'epoch': 0.5}") == Eval({"val": 2.1234})
    line = f"\r{BAR_370}\r{{'eval_loss': '2.123', 'eval_runtime': '5.12', 'epoch': '0.5'}}"
    assert hf.parse(line) == Eval({"val": 2.123}, iteration=370)
    assert hf.parse("{'eval_wiki_loss': 2.5, 'eval_code_loss': 1.5, 'epoch': 1.0}") == Eval({"wiki": 2.5, "code": 1.5})


def test_end_of_run_dict():
    line = "{'train_runtime': 1234.5678, 'train_samples_per_second': 12.96, 'train_steps_per_second': 0.81, 'train_loss': 2.51, 'epoch': 3.0}"
    assert hf.parse(line) == RunEnd(wall_seconds=pytest.approx(1234.5678))
    assert hf.parse("{'train_runtime': '1235', 'train_loss': '2.51', 'epoch': '3'}") == RunEnd(wall_seconds=1235.0)


@pytest.mark.parametrize("line", [
    "\r 50%|█████     | 5/10 [00:00<00:00, 20.00it/s]\x1b[A",  # the evaluation bar, drawn one row below
    "Map: 100%|██████████| 1000/1000 [00:01<00:00, 912.34 examples/s]",
    "Map: 100%|██████████| 1000/1000 [00:01<00:00, 912.34it/s]",  # a described bar is not the Trainer's
    "Epoch 3:  45%|████▌     | 450/1000 [01:40<02:02,  4.50it/s, v_num=1, train_loss=2.310]",
    "{'loss': __import__('os').system('true')}",  # never evaluated
    "{'loss': 2.3, " + "'x': 1, " * 2000 + "}",
    "{not a dict}",
])
def test_other_lines_are_not_progress(line):
    # None exactly: not a Progress, and not an Eval, Loss or RunEnd either
    assert hf.parse(line) is None


def test_nan_and_inf_printed_bare_by_python_are_read():
    event = hf.parse("{'loss': nan, 'grad_norm': inf, 'learning_rate': 4.5e-05, 'epoch': 0.5}")
    assert isinstance(event, Loss) and math.isnan(event.value)
    assert hf.parse("{'loss': 2.0, 'note': 'a nan, b'}") == Loss(2.0)  # text inside strings is left alone
