"""Every parser returns an event or None for any text, never raises, and stays fast on hostile lines:
Hypothesis properties over arbitrary text and over real lines of each format, mutated; one literal
case per line that once raised; time bounds on megabyte lines. ``scripts/fuzz.py`` runs the same
mutations for longer."""

from __future__ import annotations

import dataclasses
import math
import random
import re
import time
import typing
from collections.abc import Callable

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter.events import Checkpoint, Event, Progress
from exporter.formats import DETECTABLE, custom, errors, jsonl, tqdm
from exporter.run import RunModel
from exporter.trainer.config_file import parse_assignment
from test_format_custom import SPEC

PARSERS: dict[str, Callable[[str], object]] = {
    **DETECTABLE,
    "errors": errors.parse,
    "custom": custom.compile_format(yaml.safe_load(SPEC), "test"),
    "jsonl-fields": jsonl.parser({"iteration": "it", "loss": "train/loss", "iteration_seconds": "timing.step_s"}),
    "tqdm-bar": tqdm.parse_bar,
    "tqdm-bar-below": tqdm.parse_bar_below,
    "config-echo": parse_assignment,
}
RESULT_TYPES = (*typing.get_args(Event), tqdm.Bar, tuple)

# Lines as each trainer prints them (the same as in tests/test_format_*.py).
SAMPLES: dict[str, list[str]] = {
    "nanogpt": [
        "iter 1300: loss 3.2871, time 170.42ms, mfu 31.52%", "iter 0: loss 10.9871, time 25170.42ms, mfu -100.00%",
        "iter 40: loss 4.1234, time 95.10ms", "step 500: train loss 3.4012, val loss 3.4581", "saving checkpoint to out",
        "number of parameters: 40.56M", "tokens per iteration will be: 524,288", "Overriding: max_iters = 5000",
        "gradient_accumulation_steps = 5 * 8", "Overriding: dataset = shakespeare_char", "Resuming training from out",
    ],
    "llmc": [
        "step    1/74 | loss 11.010044 (+nanz)| norm 15.4337 (+nanz)| lr 8.57e-06 | 2564.78 ms | -100.0% bf16 MFU | 204415 tok/s",
        "step  120/18865 | loss 5.123456 (+0.12z)| norm 0.5123 (-0.50z)| lr 1.44e-04 | 345.67 ms | 48.3% bf16 MFU | 1516730 tok/s",
        "step  120/5000 | train loss 5.123456 | norm 0.5123 | lr 6.00e-04 | (123.45 ms | 42000 tok/s)",
        "step 12: train loss 4.5 (took 123.4 ms)", "step   12/74: train loss 4.5 (123.4 ms, 42000 tok/s)",
        "val loss 3.456789", "s:12 trl:4.5678 lr:0.000600 norm:1.23", "s:20 tel:4.4321", "Writing checkpoint at step 500",
        "total average iteration time: 123.456 ms",
    ],
    "modded": [
        "step:0/1393 val_loss:10.8258 train_time:0ms step_avg:nanms", "step:3/1393 train_time:18019ms step_avg:nanms",
        "step:10/3200 train_loss:5.4321 train_time:18872ms step_avg:nanms", "peak memory allocated: 12345 MiB reserved: 23456 MiB",
    ],
    "nanochat": [
        "step 00042/21400 (0.20%) | loss: 6.123456 | lrm: 1.00 | dt: 512.34ms | tok/sec: 1,023,456 | bf16_mfu: 45.12 | "
        "epoch: 0 pq: 3 rg: 12 | total time: 2.56m | eta: 180.3m",
        "Step 00250 | Validation bpb: 0.912345", "Total training time: 123.45m", "Resuming optimization from step 2000",
    ],
    "lightning": [
        "Epoch 3:  45%|████▌     | 450/1000 [01:40<02:02,  4.50it/s, v_num=1, train_loss=2.310]",
        "\rValidation DataLoader 0: 100%|██████████| 10/10 [00:00<00:00, 20.00it/s]\x1b[A",
    ],
    "hf": [
        " 37%|███▋      | 370/1000 [02:13<03:47,  2.77it/s]", " 12%|█▏        | 120/1000 [1:02:03<7:35:02, 31.05s/it]",
        "\r 37%|███▋      | 370/1000 [02:13<03:47,  2.77it/s]\r{'loss': 2.3456, 'grad_norm': 1.23, 'learning_rate': 4.5e-05, 'epoch': 0.5}",
        "{'loss': '2.346', 'grad_norm': '1.23', 'learning_rate': '4.5e-05', 'epoch': '0.5'}", "{'loss': nan, 'epoch': 0.5}",
        "{'eval_loss': 2.1234, 'eval_runtime': 5.12, 'epoch': 0.5}", "{'train_runtime': 123.4, 'train_loss': 2.2, 'epoch': 3.0}",
    ],
    "jsonl": [
        '{"step": 1300, "max_steps": 20000, "loss": 3.2871, "dt": 0.17, "tokens_per_second": 192000, "mfu": 0.31}',
        '{"step": 500, "loss": 3.39, "val_loss": 3.41}', '{"it": 7, "train/loss": 4.5, "timing": {"step_s": 0.25}}',
    ],
    "custom": ["it 1300/20000 loss=3.2871 170.5ms", "epoch-step 12 took 0.25s, 1,048,576 tok/s, mfu 41.5%",
               "eval @ 500: val=3.41 train=3.39", "saved checkpoint 500", "done in 12.5s", "FATAL: bad"],
    "errors": ["Traceback (most recent call last):", "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"],
}
ALL_SAMPLES = [line for lines in SAMPLES.values() for line in lines]

HOSTILE_NUMBERS = ("9" * 5000, "4" * 4400, "1" * 60, "-1", "-0", "1e999", "-1e999", "nan", "-nan", "inf", "-inf",
                   "1.2.3", "", ".", "1e", "١٢٣", "1_000", ",,,", "0x1f", "+-1", "--nan", "1::2", "?")
SEPARATORS = (" | ", ": ", ", ", " ", "/", "|", "%", ":", "=", "\r", "{", "'", "(", "[", "<", "\x1b[A", "ms", ".")
ODD_CHARACTERS = "\r\n\x00\x1b\t\ud800\udfff\ufffd█é١ "
MAX_MUTATED = 300_000  # characters of a mutated line
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def _span(line: str, rng: random.Random) -> tuple[int, int]:
    start = rng.randrange(len(line) + 1)
    return start, rng.randrange(start, min(len(line), start + 20) + 1)


def _multiply_digits(line: str, rng: random.Random) -> str:
    runs = list(re.finditer(r"\d+", line))
    if not runs:
        return line
    run = rng.choice(runs)
    return line[:run.start()] + run[0] * rng.choice((2, 10, 300, 5000)) + line[run.end():]


def _replace_number(line: str, rng: random.Random) -> str:
    numbers = list(_NUMBER.finditer(line))
    if not numbers:
        return line
    number = rng.choice(numbers)
    return line[:number.start()] + rng.choice(HOSTILE_NUMBERS) + line[number.end():]


def _double_separator(line: str, rng: random.Random) -> str:
    separator = rng.choice(SEPARATORS)
    if (at := line.find(separator, rng.randrange(len(line) + 1))) < 0:
        return line
    return line[:at] + separator * rng.choice((2, 3, 100, 3000)) + line[at:]


def _insert(line: str, rng: random.Random) -> str:
    at = rng.randrange(len(line) + 1)
    text = "".join(rng.choice(ODD_CHARACTERS + line) for _ in range(rng.randint(1, 8)))
    return line[:at] + text + line[at:]


def _delete(line: str, rng: random.Random) -> str:
    start, end = _span(line, rng)
    return line[:start] + line[end:]


def _splice(line: str, rng: random.Random) -> str:
    return line + rng.choice(("\r", "", " ", "\x1b[A\r")) + rng.choice(ALL_SAMPLES)


MUTATIONS = (_multiply_digits, _replace_number, _double_separator, _insert, _delete, _splice)


def mutate(line: str, rng: random.Random) -> str:
    """``line`` after one to four random mutations (never longer than :data:`MAX_MUTATED`)."""
    for _ in range(rng.randint(1, 4)):
        mutated = rng.choice(MUTATIONS)(line, rng)
        line = mutated if len(mutated) <= MAX_MUTATED else line
    return line


def timed(parse: Callable[[str], object], line: str) -> tuple[object, float]:
    """``parse(line)`` and the CPU seconds it took: the lesser of two tries when the first is slow
    (a pause of the garbage collector is not the parser's)."""
    started = time.process_time()
    result = parse(line)
    seconds = time.process_time() - started
    if seconds > 0.005:
        started = time.process_time()
        parse(line)
        seconds = min(seconds, time.process_time() - started)
    return result, seconds


FUZZ = settings(derandomize=True, database=None, deadline=None, max_examples=100,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
ANY_TEXT = st.text(st.one_of(st.characters(), st.sampled_from(ODD_CHARACTERS)), max_size=200)
LOG_TEXT = st.text(st.sampled_from("0123456789.,:|%/ e-+naiftsmkpolrv[]<>(){}'\"=_\r\x1b"), max_size=200)


def _check(name: str, line: str) -> None:
    result, seconds = timed(PARSERS[name], line)
    assert result is None or isinstance(result, RESULT_TYPES)
    assert seconds < 0.05, f"{name} took {seconds * 1000:.0f} ms on {line[:80]!r}… ({len(line)} characters)"


@pytest.mark.parametrize("name", PARSERS)
@FUZZ
@given(line=st.one_of(ANY_TEXT, LOG_TEXT, st.builds(str.__add__, st.sampled_from(ALL_SAMPLES), ANY_TEXT)))
def test_any_text(name, line):
    _check(name, line)


@pytest.mark.parametrize("name", PARSERS)
@FUZZ
@given(line=st.sampled_from(ALL_SAMPLES), rng=st.randoms(use_true_random=True))
def test_mutated_real_lines(name, line, rng):
    _check(name, mutate(line, rng))


@settings(FUZZ, max_examples=300)
@given(trainer=st.sampled_from([name for name in SAMPLES if name in DETECTABLE]), rng=st.randoms(use_true_random=True))
def test_run_model_takes_mutated_lines(trainer, rng):
    # its real lines first, so that the format is detected and the mutated ones are applied
    lines = SAMPLES[trainer] + [mutate(rng.choice(SAMPLES[trainer]), rng) for _ in range(40)]
    model = RunModel("r", "train.log")
    model.feed_lines(lines, None)
    snapshot = model.snapshot(1_700_000_000.0)
    for field in dataclasses.fields(snapshot):
        value = getattr(snapshot, field.name)
        assert not isinstance(value, float) or math.isfinite(value), f"{field.name} = {value}"


HUGE = "7" * 5000  # an integer over Python's 4,300-digit limit for int()
BAR = "|█| 1/2 [00:01<00:02, 1.00it/s]"

# (parser, line, what it reads): each line made its parser raise, or build a huge value, before
# numbers and expressions were bounded
THROW_SITES = [
    ("nanogpt", "number of parameters: 1.2.3M", None),
    ("nanogpt", "tokens per iteration will be: ,,,", None),
    ("nanogpt", f"tokens per iteration will be: {HUGE}", None),
    ("nanogpt", f"iter {HUGE}: loss 1.0, time 10.0ms", None),
    ("nanochat", "Step 00250 | Validation bpb: 1.2.3", None),
    ("nanochat", f"step {HUGE}/21400 (0.20%) | loss: 6.1 | dt: 512.34ms", None),
    ("nanochat", f"Step {HUGE} | Validation bpb: 0.9", None),
    ("hf", f" 37%|███▋      | 370/1000 [02:13<03:47,  1.2.3it/s]", Progress(370, None, 1000, None, 133.0, includes_eval=True)),
    ("hf", " 37%|███▋      | 370/1000 [02::13<03:47,  2.77it/s]", None),
    ("hf", f" 37%|███▋      | {HUGE}/1000 [02:13<03:47,  2.77it/s]", None),
    ("hf", "{'loss': 1" + "0" * 400 + ", 'epoch': 0.5}", None),
    ("lightning", f"Epoch 3:  45%|████▌     | 450/1000 [01:40<02:02,  1.2.3it/s, loss=2.5]", Progress(3450, 2.5)),
    ("lightning", f"Epoch {HUGE}:  45%{BAR}", None),
    ("llmc", f"s:{HUGE} trl:4.5", None),
    ("llmc", f"s:{HUGE} tel:4.5", None),
    ("llmc", f"Writing checkpoint at step {HUGE}", Checkpoint()),
    ("llmc", f"step {HUGE}: train loss 4.5 (took 123.4 ms)", None),
    ("llmc", "val loss --nan", None),
    ("modded", f"step:{HUGE}/1393 train_time:18019ms step_avg:nanms", None),
    ("modded", f"step:0/1393 val_loss:1{HUGE} train_time:0ms", None),
    ("jsonl", '{"step": 12, "loss": 1' + "0" * 400 + "}", Progress(12)),
    ("jsonl", '{"step": 1' + "0" * 400 + ', "loss": 2.5}', None),
    ("config-echo", "max_iters = 1" + "+1" * 1200, None),
    ("config-echo", "dataset = 'x' * 10**18", None),
    ("config-echo", "out_dir = 'a' * 10**8", None),
    ("config-echo", "out_dir = '%999999999s' % 'a'", None),
    ("config-echo", "max_iters = " + "-" * 5000 + "1", None),
]


@pytest.mark.parametrize(("name", "line", "expected"), THROW_SITES, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(THROW_SITES)])
def test_lines_that_once_raised_are_read_or_refused(name, line, expected):
    result, seconds = timed(PARSERS[name], line)
    assert result == expected
    assert seconds < 0.05


MiB = 1 << 20
LONG_LINES = {
    "digits": "9" * MiB,
    "val loss nines": "val loss " + "9" * 16_000 + "x",
    "indented": " " * MiB + "x",
    "colons": ": " * (MiB // 2),
    "bar description": "a" * MiB + ": 1%|",
    "step spaces": "step" + " " * MiB,
    "step digits": "step " + "5" * MiB,
    "number then junk": "s:1 trl:" + "1" * MiB + "x",
}


@pytest.mark.parametrize("name", PARSERS)
@pytest.mark.parametrize("kind", LONG_LINES)
def test_a_megabyte_line_is_read_in_linear_time(name, kind):
    _, seconds = timed(PARSERS[name], LONG_LINES[kind])
    assert seconds < 0.1, f"{name}: {seconds * 1000:.0f} ms"
