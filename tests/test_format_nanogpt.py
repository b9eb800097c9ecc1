"""nanoGPT train.py lines, quoted as the trainer prints them."""

import math

import pytest

from exporter.events import Checkpoint, ConfigValue, ErrorMessage, Eval, Parameters, Progress, RunStart, TokensPerIteration, TrainerError
from exporter.formats import FormatReader, errors, nanogpt


def test_iteration_line_with_mfu():
    event = nanogpt.parse("iter 1300: loss 3.2871, time 170.42ms, mfu 31.52%")
    assert event == Progress(iteration=1300, loss=3.2871, iteration_seconds=pytest.approx(0.17042), mfu_ratio=pytest.approx(0.3152),
                             includes_eval=True)


def test_mfu_not_measured_yet_is_omitted():
    event = nanogpt.parse("iter 0: loss 10.9871, time 25170.42ms, mfu -100.00%")
    assert event.mfu_ratio is None
    assert event.iteration_seconds == pytest.approx(25.17042)


def test_old_iteration_line_without_mfu():
    event = nanogpt.parse("iter 40: loss 4.1234, time 95.10ms")
    assert event == Progress(iteration=40, loss=4.1234, iteration_seconds=pytest.approx(0.0951), includes_eval=True)


def test_nan_loss_is_kept_as_nan():
    event = nanogpt.parse("iter 425: loss nan, time 1043.87ms, mfu 0.01%")
    assert math.isnan(event.loss)


def test_eval_line():
    assert nanogpt.parse("step 500: train loss 3.4012, val loss 3.4581") == Eval(
        {"train": 3.4012, "val": 3.4581}, iteration=500
    )


def test_checkpoint_parameters_tokens_and_starts():
    assert nanogpt.parse("saving checkpoint to out-shakespeare-char") == Checkpoint(path="out-shakespeare-char")
    assert nanogpt.parse("number of parameters: 40.56M") == Parameters(40.56e6)
    assert nanogpt.parse("tokens per iteration will be: 524,288") == TokensPerIteration(524288)
    assert nanogpt.parse("Resuming training from out") == RunStart(resumed=True)
    assert nanogpt.parse("Initializing a new model from scratch") == RunStart(resumed=False)
    assert nanogpt.parse("Initializing from OpenAI GPT-2 weights: gpt2") == RunStart(resumed=False)


def test_config_echo_and_overrides_are_read_without_exec():
    assert nanogpt.parse("gradient_accumulation_steps = 5 * 8") == ConfigValue("gradient_accumulation_steps", 40)
    assert nanogpt.parse("max_iters = 20000") == ConfigValue("max_iters", 20000)
    assert nanogpt.parse("Overriding: max_iters = 5000") == ConfigValue("max_iters", 5000)
    assert nanogpt.parse("Overriding: dataset = shakespeare_char") == ConfigValue("dataset", "shakespeare_char")
    assert nanogpt.parse("Overriding: learning_rate = 6e-4") == ConfigValue("learning_rate", 6e-4)
    # not literal: never evaluated
    assert nanogpt.parse("max_iters = __import__('os').system('true')") is None
    assert nanogpt.parse("wandb_run_name = 'gpt2-124M'") == ConfigValue("wandb_run_name", "gpt2-124M")
    assert nanogpt.parse("my_own_flag = 3") is None  # not a nanoGPT setting


@pytest.mark.parametrize("line", [
    "",
    "compiling the model... (takes a ~minute)",
    "iter 12: loss abc, time 1ms",
    "iter x: loss 1.0, time 1ms",
    "\x00\x00\x00",
    "step 500: train loss 3.4, val loss",
])
def test_other_lines_are_not_understood(line):
    assert nanogpt.parse(line) is None


def test_crash_markers():
    assert errors.parse("Traceback (most recent call last):") == TrainerError("traceback")
    oom = "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity"
    assert errors.parse(oom) == TrainerError("oom", oom)
    assert errors.parse("iter 3: loss 1.0, time 1.00ms") is None


@pytest.mark.parametrize(("line", "message"), [
    ("RuntimeError: NCCL error in: ../torch/csrc/distributed/c10d/ProcessGroupNCCL.cpp:1970",
     "RuntimeError: NCCL error in: ../torch/csrc/distributed/c10d/ProcessGroupNCCL.cpp:1970"),
    ("KeyboardInterrupt", "KeyboardInterrupt"),
    ("torch.distributed.DistBackendError: NCCL communicator was aborted  ",
     "torch.distributed.DistBackendError: NCCL communicator was aborted"),
    ("ValueError: " + "x" * 1000, "ValueError: " + "x" * 287 + "…"),
])
def test_a_tracebacks_last_line_is_the_error_message(line, message):
    assert errors.parse(line) == ErrorMessage(message)


@pytest.mark.parametrize("line", [
    "  File \"train.py\", line 3, in <module>", "    raise ValueError('x')", "no Error: here", "step Error: 3",
    "not an error: RuntimeError: x", "my-Error: x", "iter 3: loss 1.0 Exception",
])
def test_other_lines_with_error_in_them_are_no_error_message(line):
    assert errors.parse(line) is None


def test_detection_replays_the_preamble_once_progress_is_seen():
    reader = FormatReader()
    held = [list(reader.feed(line)) for line in ("max_iters = 20000", "number of parameters: 40.56M")]
    assert held == [[], []] and reader.name is None
    events = list(reader.feed("iter 0: loss 10.9, time 100.00ms, mfu -100.00%"))
    assert reader.name == "nanogpt"
    assert [type(e) for e in events] == [ConfigValue, Parameters, Progress]


def test_crash_before_detection_is_not_held_back():
    reader = FormatReader()
    assert list(reader.feed("Traceback (most recent call last):")) == [TrainerError("traceback")]
