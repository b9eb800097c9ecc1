"""Whole generated runs of every format: at 25 %, 50 % and 75 % the exporter reports the progress,
the loss and an ETA within 5 % of the simulated truth.

``status`` reads a file once, with no arrival stamps: it can only count an eval's cost where the
trainer's own timing includes it (nanoGPT's iteration time, the HF bar's wall clock). For trainers
whose clocks leave evals out (llm.c, modded-nanogpt, nanochat, Lightning, JSON lines and custom
formats as generated here) the ``status`` runs use cheap evals, and the cost of real evals is
checked where the exporter can measure it: following the log live, through ``RunModel.feed_line``
with each line's arrival stamp. llm.c's main.log has no timing at all, so it is checked live only.
"""

from __future__ import annotations

import json

import pytest

from exporter.commands.cli import main
from exporter.commands.config import Config
from exporter.commands.serve import open_run
from fixtures_formats import CUSTOM_SPEC, Line, Run, Truth, generate

FRACTIONS = (0.25, 0.5, 0.75)
EXPENSIVE_EVALS = Truth()
CHEAP_EVALS = Truth(eval_seconds=0.5)
LIGHTNING = Truth(total_steps=2400, eval_interval=300)  # whole epochs of eval_interval batches
FORMAT_OF = {"llmc-main-log": "llmc"}


STATUS_CASES = [
    ("nanogpt", EXPENSIVE_EVALS),
    ("hf", EXPENSIVE_EVALS),
    ("hf", CHEAP_EVALS),
    ("llmc", CHEAP_EVALS),
    ("modded", CHEAP_EVALS),
    ("nanochat", CHEAP_EVALS),
    ("lightning", Truth(total_steps=2400, eval_interval=300, eval_seconds=0.5)),
    ("jsonl", CHEAP_EVALS),
    ("custom", CHEAP_EVALS),
]
LIVE_CASES = [
    ("nanogpt", EXPENSIVE_EVALS),
    ("llmc", EXPENSIVE_EVALS),
    ("llmc-main-log", EXPENSIVE_EVALS),
    ("modded", EXPENSIVE_EVALS),
    ("nanochat", EXPENSIVE_EVALS),
    ("hf", EXPENSIVE_EVALS),
    ("lightning", LIGHTNING),
    ("jsonl", EXPENSIVE_EVALS),
    ("custom", EXPENSIVE_EVALS),
]


def _custom_spec(tmp_path) -> str:
    path = tmp_path / "custom-format.yml"
    path.write_text(CUSTOM_SPEC)
    return str(path)


def _check(report: dict, truth: Truth, steps: int, label: str) -> None:
    assert report["max_iterations"] - report["iteration"] == truth.total_steps - steps, label
    assert report["progress_ratio"] == pytest.approx(steps / truth.total_steps, abs=1e-3), label
    assert report["loss"] == pytest.approx(truth.loss(steps), abs=2e-3), label
    expected = truth.remaining_seconds(steps)
    assert report["eta_seconds"] == pytest.approx(expected, rel=0.05), (
        f"{label}: ETA {report['eta_seconds']:.1f} s, truth {expected:.1f} s")


@pytest.mark.parametrize("name, truth", STATUS_CASES)
@pytest.mark.parametrize("fraction", FRACTIONS)
def test_status_json_reports_progress_loss_and_eta(name, truth, fraction, tmp_path, capsys):
    run = generate(name, truth)
    lines, steps = run.cut(fraction, truth)
    log = tmp_path / f"{name}.log"
    log.write_text(run.text(lines), encoding="utf-8")
    extra = ["--custom-format-file", _custom_spec(tmp_path)] if name == "custom" else []
    # jsonl and custom logs are named with --format; the others are detected
    if name in ("jsonl", "custom"):
        extra += ["--format", name]
    assert main(["status", str(log), "--json", *run.cli_args, *extra]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["format"] == FORMAT_OF.get(name, name)
    assert report["state"] == "running"
    _check(report, truth, steps, f"{name} at {fraction:.0%}")


def _follow(run: Run, lines: list[Line], name: str, tmp_path) -> dict:
    settings = dict(run.config)
    if name == "custom":
        settings.update(format="custom", custom_format_file=_custom_spec(tmp_path))
    model = open_run(Config(run=name, log=f"{name}.log", **settings))
    model.log_present = True
    for line in lines:
        model.feed_line(line.text, line.arrived)
    snapshot = model.snapshot(lines[-1].arrived)
    return {
        "max_iterations": snapshot.max_iterations,
        "iteration": snapshot.iteration,
        "progress_ratio": snapshot.progress_ratio,
        "loss": snapshot.loss,
        "eta_seconds": snapshot.eta_seconds,
        "state": snapshot.state,
        "format": snapshot.format,
    }


@pytest.mark.parametrize("name, truth", LIVE_CASES)
@pytest.mark.parametrize("fraction", FRACTIONS)
def test_followed_live_the_eta_counts_the_evals(name, truth, fraction, tmp_path):
    run = generate(name, truth)
    lines, steps = run.cut(fraction, truth)
    report = _follow(run, lines, name, tmp_path)
    assert report["format"] == FORMAT_OF.get(name, name)
    assert report["state"] == "running"
    _check(report, truth, steps, f"{name} live at {fraction:.0%}")


def test_eval_due_at_the_current_iteration_is_counted(tmp_path):
    truth = Truth(total_steps=2100, eval_interval=500, eval_seconds=100.0)
    run = generate("llmc", truth)
    lines, steps = run.cut(1000 / truth.total_steps, truth)
    assert steps == 1000 and not lines[-1].text.startswith("val loss")
    _check(_follow(run, lines, "llmc", tmp_path), truth, steps, "llmc live at step 1000, its eval due")


@pytest.mark.parametrize("name", ["nanogpt", "llmc", "modded", "nanochat", "hf", "jsonl", "custom"])
def test_whole_run_ends_finished_with_no_time_left(name, tmp_path):
    run = generate(name, Truth(log_interval=1))  # nanoGPT prints its last iteration only on a log step
    report = _follow(run, run.lines, name, tmp_path)
    assert report["state"] == "finished"
    assert report["eta_seconds"] == 0
