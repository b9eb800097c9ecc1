"""The run model's fast path for the usual progress line leaves the model exactly as the
event-by-event path does, whatever lines come and however they are split into reads."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import exporter.formats
from exporter.formats import FormatReader, llmc, nanogpt
from exporter.run import RunModel, fast_path

NANOGPT_OTHER = [
    "step {i}: train loss 3.1000, val loss 3.2000",
    "step {i}: train loss nan, val loss 3.2000",
    "step {i}: train loss 3.1, val loss inf",
    "saving checkpoint to out",
    "Resuming training from out",
    "Initializing a new model from scratch",
    "Overriding: max_iters = {i}",
    "Overriding: eval_interval = 0",
    "max_iters = 20000",
    "number of parameters: 123.45M",
    "tokens per iteration will be: 32,768",
    "Traceback (most recent call last):",
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB",
    "iter {i}: loss OutOfMemoryError, time 5ms",
    " 45%|████▌     | 450/1000 [01:40<02:02,  4.50it/s]",
    "wandb: Syncing run fancy-sun-12",
    "",
]
NANOGPT_PROGRESS = [
    "iter {i}: loss {loss}, time {ms}ms, mfu {mfu}%",
    "iter {i}: loss {loss}, time {ms}ms",
]
LLMC_OTHER = ["val loss 3.5", "Writing checkpoint at step {i}", "s:{i} trl:3.5", "s:{i} tel:3.6",
              "total average iteration time: 123.4 ms", "Traceback (most recent call last):", "noise"]
LLMC_PROGRESS = [
    "step {i:4d}/{most} | loss {loss} (+0.12z)| norm 0.5123 (-0.50z)| lr 1.44e-04 | {ms} ms | {mfu}% bf16 MFU "
    "| {tps} tok/s",
]


def _usually(usual, *odd):
    """Mostly a usual value (so that the common case runs long enough to matter), now and then an odd one."""
    return st.one_of(st.just(usual), st.just(usual), st.just(usual), st.sampled_from(odd))


NUMBERS = {
    "loss": _usually("3.2871", "2.5", "nan", "inf", "-inf", "1e400", "0"),
    "ms": _usually("170.42", "0", "-5", "1e12", "nan", "88.1", "1e400"),
    "mfu": _usually("31.52", "-100.00", "48.3", "0", "1e20", "nan"),
    "most": _usually("20000", "0", "5", "99999999999999999"),
    "tps": _usually("1516730", "0", "1e16", "nan", "-1"),
}


def _lines(progress, other):
    step = st.one_of(st.just(1), st.just(1), st.integers(min_value=-3, max_value=40))
    progress_line = st.builds(lambda template, d, **n: (template, d, n), st.sampled_from(progress), step, **NUMBERS)
    other_line = st.builds(lambda template, d: (template, d, {}), st.sampled_from(other), step)
    return st.lists(st.one_of(progress_line, progress_line, progress_line, other_line), max_size=150)


def _render(drawn):
    iteration, lines = 0, []
    for template, step, numbers in drawn:
        iteration = max(iteration + step, 0) if step != 40 else 10**13  # now and then out of bounds
        lines.append(template.format(i=iteration, **numbers))
    return lines


def _model(name, lines, cuts, arrived, fast, monkeypatch):
    with monkeypatch.context() as patch:
        if not fast:
            patch.setattr(exporter.formats, "PROGRESS_LINES", {})
        model = RunModel("r", reader=FormatReader.open(name))
        start = 0
        for cut in sorted(cuts) + [len(lines)]:
            model.feed_lines(lines[start:cut], None if arrived is None else arrived + cut)
            start = cut
    return model


def _state(model):
    timing = model.timing
    return (model.snapshot(5_000.0), list(timing.samples), list(timing.sampled_at), list(timing.line_gaps),
            list(timing.eval_overheads), list(timing.eval_iterations), timing.history.points, timing.elapsed)


@pytest.mark.parametrize("name, progress, other", [
    (nanogpt.NAME, NANOGPT_PROGRESS, NANOGPT_OTHER),
    (llmc.NAME, LLMC_PROGRESS, LLMC_OTHER),
])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_the_fast_path_leaves_the_model_as_the_event_path_does(name, progress, other, data, monkeypatch):
    lines = _render(data.draw(_lines(progress, other)))
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=len(lines)), max_size=4))
    arrived = data.draw(st.one_of(st.none(), st.floats(min_value=1_000.0, max_value=2_000.0)))
    fast = _model(name, lines, cuts, arrived, True, monkeypatch)
    slow = _model(name, lines, cuts, arrived, False, monkeypatch)
    assert _state(fast) == _state(slow)
    assert fast.counts.lines_read == len(lines)


def test_a_long_steady_run_takes_the_fast_path_and_keeps_its_history(monkeypatch):
    """Thousands of samples fill and merge the step-time history the ETA's trend reads."""
    lines = [f"iter {i}: loss {3 - i / 10**5:.4f}, time {170 + i / 100:.2f}ms, mfu 31.52%" for i in range(5000)]
    lines[2500:2500] = ["step 2500: train loss 3.0, val loss 3.1"]
    fast = _model(nanogpt.NAME, lines, [1000, 3000], 1_000.0, True, monkeypatch)
    slow = _model(nanogpt.NAME, lines, [1000, 3000], 1_000.0, False, monkeypatch)
    at_once = _model(nanogpt.NAME, lines, [], 1_000.0, True, monkeypatch)  # fed in blocks of BLOCK_LINES
    assert len(lines) > 2 * fast_path.BLOCK_LINES
    assert _state(fast) == _state(slow) == _state(at_once)
    assert len(fast.timing.history.points) > 32 and fast.timing.trend() > 0
    assert fast.snapshot(5_000.0).iteration == 4999
