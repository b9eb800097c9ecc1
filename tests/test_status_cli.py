"""`training-exporter status`: the scenario-2 ETA, the human report, and clear errors."""

import json
import os
import re

import pytest

from exporter.commands.cli import main
from nanogpt_fixture import progress_lines, scenario_two


@pytest.fixture
def scenario_log(tmp_path):
    path = tmp_path / "train.log"
    path.write_text(scenario_two())
    return path


def test_scenario_two_json_eta_is_within_five_percent_of_3400_seconds(scenario_log, capsys):
    assert main(["status", str(scenario_log), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["iteration"] == 1300 and report["max_iterations"] == 20000
    assert report["evals_left"] == 38
    assert report["eta_seconds"] == pytest.approx(3400, rel=0.05)
    assert report["eta_low_seconds"] < report["eta_seconds"] < report["eta_high_seconds"]
    assert report["state"] == "running" and report["format"] == "nanogpt"


def test_text_report_reads_like_a_person_wrote_it(scenario_log, capsys):
    assert main(["status", str(scenario_log)]) == 0
    text = capsys.readouterr().out
    assert "1,300 / 20,000 iterations (6.5%); 18,700 left" in text
    assert "typical iteration 170 ms" in text
    assert "eval every 500 iters costs +5.8 s, 38 evals left" in text
    assert "about 57 min left" in text and "expected to finish at" in text


def test_energy_so_far_comes_from_the_state_file(scenario_log, tmp_path, capsys):
    state = tmp_path / "energy.json"
    state.write_text(json.dumps({"version": 1, "run": "train", "energy_joules": 7.2e6, "readings": {}}))
    assert main(["status", str(scenario_log), "--state-file", str(state), "--price-per-kwh", "0.30",
                 "--currency", "EUR"]) == 0
    assert "energy so far 2.00 kWh, 0.600 EUR" in capsys.readouterr().out


def test_overrides_apply(scenario_log, capsys):
    assert main(["status", str(scenario_log), "--json", "--max-iters", "2000"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["max_iterations"] == 2000 and report["evals_left"] == 2


def test_missing_log_and_bad_config_are_clear_errors(tmp_path, capsys):
    assert main(["status", str(tmp_path / "nope.log")]) == 2
    assert "no log file" in capsys.readouterr().err
    config = tmp_path / "exporter.yml"
    config.write_text("price_per_kwh: -3\nmax_itres: 5\n")
    assert main(["status", str(tmp_path / "nope.log"), "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "price_per_kwh" in err and "max_itres: unknown key" in err
    assert main(["status", str(tmp_path / "x.log"), "--override", "nonsense"]) == 2
    assert "--override" in capsys.readouterr().err


def test_bad_custom_format_file_and_jsonl_fields_are_clear_errors(tmp_path, capsys):
    log = tmp_path / "train.log"
    log.write_text("it 1 loss=2\n")
    patterns = tmp_path / "mine.yml"
    patterns.write_text("progress: '^it (?P<iteration>\\d+'\nevall: 'x'\n")
    assert main(["status", str(log), "--format", "custom", "--custom-format-file", str(patterns)]) == 2
    err = capsys.readouterr().err
    assert "progress" in err and "evall" in err and "Traceback" not in err
    config = tmp_path / "exporter.yml"
    config.write_text("format: jsonl\njsonl_fields: {iteration: it, lost: l}\n")
    assert main(["status", str(log), "--config", str(config)]) == 2
    assert "jsonl_fields: unknown field(s) lost" in capsys.readouterr().err


def test_a_run_length_from_the_trainers_default_is_called_a_guess(tmp_path, capsys):
    log = tmp_path / "train.log"
    log.write_text("\n".join(progress_lines(0, 300)) + "\n")  # no config lines
    assert main(["status", str(log)]) == 0
    out = capsys.readouterr().out
    assert "300 / 600,000 iterations" in out
    assert "max iterations 600,000 is the nanogpt trainer's default, a guess" in out and "--max-iters" in out
    assert main(["status", str(log), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["sources"]["max_iterations"] == "default"
    assert main(["status", str(log), "--max-iters", "5000"]) == 0
    assert "a guess" not in capsys.readouterr().out


def test_a_nan_loss_is_what_the_headline_shows(tmp_path, capsys):
    log = tmp_path / "train.log"
    lines = progress_lines(0, 300)
    lines.append("iter 310: loss nan, time 170.00ms, mfu 30.00%")
    log.write_text("\n".join(lines) + "\n")
    assert main(["status", str(log)]) == 4  # crashed
    out = capsys.readouterr().out
    assert ": crashed" in out
    assert "loss nan/inf (last finite " in out


def test_a_file_that_is_not_a_training_log_is_said_so(tmp_path, capsys):
    log = tmp_path / "notes.txt"
    log.write_text("".join(f"shopping list item {i}\n" for i in range(40)))
    assert main(["status", str(log)]) == 2
    err = capsys.readouterr().err
    assert "none of the 40 lines" in err and "formats tried: nanogpt, llmc" in err and "--format" in err


def test_a_log_with_only_its_preamble_so_far_is_starting_not_unrecognised(tmp_path, capsys):
    from nanogpt_fixture import preamble

    log = tmp_path / "train.log"
    log.write_text("\n".join(preamble()) + "\n")
    assert main(["status", str(log)]) == 0
    assert "starting" in capsys.readouterr().out


@pytest.mark.parametrize(("tail", "status", "why"), [
    (["Traceback (most recent call last):", '  File "train.py", line 9, in <module>',
      "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB."], 4,
     "why: torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB."),
    (["iter 1310: loss nan, time 170.00ms, mfu 30.00%"], 4, "why: NaN/inf loss at iteration 1,310"),
])
def test_a_crashed_run_says_why_and_exits_non_zero(tmp_path, capsys, tail, status, why):
    log = tmp_path / "train.log"
    log.write_text(scenario_two() + "\n".join(tail) + "\n")
    assert main(["status", str(log)]) == status
    out = capsys.readouterr().out
    assert why in out.replace("\n  ", " ") and "evals left" not in out
    assert all(len(line) <= 80 for line in out.splitlines())


def test_a_stalled_run_exits_3_and_says_how_long_it_has_been_silent(scenario_log, capsys):
    old = scenario_log.stat().st_mtime - 3600
    os.utime(scenario_log, (old, old))
    assert main(["status", str(scenario_log)]) == 3
    assert re.search(r"why: no progress for (60 min|1 h 00 min) \(timeout \d+ (s|min)\)", capsys.readouterr().out)


def test_a_finished_run_shows_its_wall_time_energy_and_cost_or_that_energy_is_not_known(tmp_path, capsys):
    log = tmp_path / "train.log"
    log.write_text(scenario_two().replace("max_iters = 20000", "max_iters = 1300"))
    assert main(["status", str(log)]) == 0
    out = capsys.readouterr().out
    assert ": finished" in out and re.search(r"took \d+", out)
    assert "energy not known: no state file" in out and "left" not in out
    state = tmp_path / "energy.json"
    state.write_text(json.dumps({"version": 1, "run": "train", "energy_joules": 11_160.0, "readings": {},
                                 "finished": True}))
    assert main(["status", str(log), "--state-file", str(state), "--price-per-kwh", "0.30"]) == 0
    assert "energy 0.0031 kWh, 0.001 USD" in capsys.readouterr().out
