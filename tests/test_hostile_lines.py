"""A line that once stopped the exporter is now one ignored line: the run goes on around it, in
the model, in ``status`` and in a serving exporter."""

import re

import pytest

from exporter.commands.cli import main
from exporter.run import RunModel
from exporter_process import ExporterProcess
from nanogpt_fixture import preamble, progress_lines

CRASH_LINES = [
    "Overriding: max_iters = 1e999",
    "Overriding: eval_interval = 1e999",
    "Overriding: batch_size = 'a'",
    "max_iters = 9**64*9**64*9**64*9**64*9**64*9**64",
    f"iter {'7' * 400}: loss 1.0, time 10.0ms",
    "number of parameters: 1.2.3M",
]


def _model(lines):
    model = RunModel("hostile", "train.log")
    model.log_present = True
    model.feed_lines(lines, None)
    model.mark_activity(1_000.0)
    return model.snapshot(1_001.0)


@pytest.mark.parametrize("line", CRASH_LINES)
def test_one_bad_line_in_a_batch_costs_that_line_only(line):
    before = preamble() + progress_lines(0, 1000)
    after = progress_lines(1010, 1300)
    clean = _model(before + after)
    hostile = _model(before + [line] + after)
    assert hostile.iteration == clean.iteration == 1300
    assert hostile.max_iterations == clean.max_iterations == 20_000
    assert hostile.tokens_per_iteration == clean.tokens_per_iteration == 32_768
    assert hostile.parameters == clean.parameters
    assert hostile.eta_seconds == pytest.approx(clean.eta_seconds)
    skipped = (hostile.lines_ignored + hostile.lines_not_understood) - (clean.lines_ignored + clean.lines_not_understood)
    assert skipped == 1
    assert hostile.lines_read == clean.lines_read + 1


@pytest.mark.parametrize("line", CRASH_LINES)
def test_status_reads_past_the_line(line, tmp_path, capsys):
    log = tmp_path / "train.log"
    log.write_text("\n".join(preamble() + [line] + progress_lines(0, 1300)) + "\n")
    assert main(["status", str(log)]) == 0
    out = capsys.readouterr()
    assert "1,300 / 20,000 iterations" in out.out
    assert "Traceback" not in out.out + out.err


def _skipped(text: str) -> float:
    """Lines ignored or not understood, from an exposition."""
    return sum(float(m[1]) for m in re.finditer(
        r'^training_exporter_log_lines_(?:ignored|not_understood)_total\{run="hostile"\} (\S+)$', text, re.MULTILINE))


def test_serve_keeps_serving_and_counts_the_lines(tmp_path):
    log = tmp_path / "train.log"
    log.write_text("\n".join(preamble() + CRASH_LINES + progress_lines(0, 1000)) + "\n")
    with ExporterProcess("--log", str(log), "--run", "hostile") as exporter:
        before = _skipped(exporter.wait_for('training_iteration{run="hostile"} 1000.0'))
        with log.open("a") as f:
            f.write("\n".join(CRASH_LINES + progress_lines(1010, 1300)) + "\n")
        text = exporter.wait_for('training_iteration{run="hostile"} 1300.0')
        assert 'training_max_iterations{run="hostile",source="log"} 20000.0' in text
        assert _skipped(text) - before == len(CRASH_LINES)  # each bad line skipped and counted, nothing else
        assert exporter.process.poll() is None
    assert "Traceback" not in exporter.output()


def test_a_megabyte_line_of_digits_neither_stalls_the_follower_nor_a_scrape(tmp_path):
    """Just under the 1 MiB line cap, so the parsers see it (a longer line is dropped unread)."""
    import threading
    import time

    import requests

    log = tmp_path / "train.log"
    log.write_text("\n".join(preamble() + progress_lines(0, 500)) + "\n")
    with ExporterProcess("--log", str(log), "--run", "hostile") as exporter:
        exporter.wait_for('training_iteration{run="hostile"} 500.0')
        latencies = []
        done = threading.Event()

        def scrape_meanwhile():
            while not done.is_set():
                started = time.perf_counter()
                requests.get(exporter.url, timeout=5)
                latencies.append(time.perf_counter() - started)

        scraper = threading.Thread(target=scrape_meanwhile)
        scraper.start()
        written = time.monotonic()
        with log.open("a") as f:
            f.write("val loss " + "9" * ((1 << 20) - 64) + "x\n" + "\n".join(progress_lines(510, 600)) + "\n")
        exporter.wait_for('training_iteration{run="hostile"} 600.0', timeout=5)
        followed = time.monotonic() - written
        done.set()
        scraper.join()
    assert followed < 2.0  # the poll interval and a scrape loop, not seconds of backtracking
    assert latencies and max(latencies) < 0.1, max(latencies)
