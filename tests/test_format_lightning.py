"""PyTorch Lightning TQDMProgressBar updates."""

import math

import pytest

from exporter.events import Eval, Progress
from exporter.formats import lightning


def test_bar_with_postfix_counts_batches_of_earlier_epochs():
    line = "Epoch 3:  45%|████▌     | 450/1000 [01:40<02:02,  4.50it/s, v_num=1, train_loss=2.310]"
    assert lightning.parse(line) == Progress(iteration=3450, loss=2.31, iteration_seconds=pytest.approx(1 / 4.5))


def test_last_carriage_return_update_counts():
    line = ("\rEpoch 0:   0%|          | 0/1000 [00:00<?, ?it/s]"
            "\rEpoch 0:   1%|          | 10/1000 [00:02<03:40,  4.50it/s, v_num=0, loss=9.12]"
            "\rEpoch 0:   2%|▏         | 20/1000 [00:04<03:38,  4.49it/s, v_num=0, loss=8.75]")
    assert lightning.parse(line) == Progress(iteration=20, loss=8.75, iteration_seconds=pytest.approx(1 / 4.49))


def test_step_and_epoch_losses_prefer_the_step_value():
    line = "Epoch 1: 100%|██████████| 1000/1000 [03:40<00:00,  4.54it/s, v_num=2, train_loss_step=nan, train_loss_epoch=2.400]"
    assert math.isnan(lightning.parse(line).loss)


def test_bar_without_loss():
    assert lightning.parse("Epoch 0:   0%|          | 0/1000 [00:00<?, ?it/s]") == Progress(iteration=0)


def test_last_update_of_the_validation_bar_marks_an_eval():
    line = "\rValidation DataLoader 0:  90%|█████████ | 9/10 [00:00<00:00, 20.00it/s]\x1b[A\rValidation DataLoader 0: 100%|██████████| 10/10 [00:00<00:00, 20.00it/s]\x1b[A"
    assert lightning.parse(line) == Eval({})


@pytest.mark.parametrize("line", [
    "\rSanity Checking DataLoader 0: 100%|██████████| 2/2 [00:00<00:00,  9.81it/s]\x1b[A",
    "\rValidation DataLoader 0:  50%|█████     | 5/10 [00:00<00:00, 20.00it/s]\x1b[A",
    "Sanity Checking DataLoader 0: 100%|██████████| 2/2 [00:00<00:00,  9.81it/s]",
    " 37%|███▋      | 370/1000 [02:13<03:47,  2.77it/s]",
    "Epoch 3:  45%|████▌     | 450/1000 [01:40<02:02",
])
def test_other_lines_are_not_progress_or_evals(line):
    assert lightning.parse(line) is None
