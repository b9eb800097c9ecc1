"""The `plan` command end to end: a real config file read with ast, table and JSON output, errors."""

import argparse
import json
import re

import pytest

from exporter.commands import plan as plan_report

SCENARIO_1_CONFIG = """\
# 40.56M-parameter GPT on OpenWebText
import time
out_dir = 'out-small'
wandb_run_name = 'small-' + str(time.time())
eval_interval = 500
eval_iters = 200
dataset = 'openwebtext'
gradient_accumulation_steps = 4 * 8
batch_size = 16
block_size = 1024
n_layer = 12
n_head = 6
n_embd = 384
max_iters = 20000
"""


def parse(*argv):
    parser = argparse.ArgumentParser()
    plan_report.add_arguments(parser)
    return parser.parse_args(list(argv))


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "train_small.py"
    path.write_text(SCENARIO_1_CONFIG)
    return str(path)


def test_scenario_1_table(config_file, capsys):
    assert plan_report.run(parse(config_file, "--gpu", "RTX 4070", "--dataset-tokens", "3.68e9")) == 0
    out = capsys.readouterr().out
    assert "40.56M (40,560,000)" in out
    assert "40.95M (40,953,216)" in out
    assert "524,288 (batch 16 × block 1024 × grad-accum 32 × 1 GPU)" in " ".join(out.split())
    assert "10,485,760,000" in out
    assert "6·N·D           2.55×10^18" in out
    assert "epochs                      2.85" in out
    assert "NVIDIA GeForce RTX 4070 (58.3 TFLOP/s dense BF16 each)" in out
    assert "FITS" in out
    for mfu in ("20%", "30%", "40%"):
        assert f"\n  {mfu}" in out


def test_scenario_1_json_with_measured_throughput_and_power(config_file, capsys):
    # 10.49B tokens at 145,636 tok/s is 20 h of training; 200 W for ~20 h is about 4 kWh.
    args = parse(config_file, "--params", "40.56M", "--tokens-per-second", "145636", "--watts", "200",
                 "--dataset", config_file, "--price", "0.15", "--json")
    assert plan_report.run(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["parameters"] == 40.56e6
    assert data["tokens_per_iteration"] == 524_288
    assert data["total_tokens"] == 10_485_760_000
    assert data["flops_6nd"] == pytest.approx(2.5518e18, rel=1e-4)
    assert data["flops_with_attention"] == pytest.approx(299_983_104 * 10_485_760_000)
    (case,) = data["durations"]
    assert case["basis"] == "measured"
    assert case["train_seconds"] == pytest.approx(10_485_760_000 / 145_636)
    # 41 evals × 2 × 200 micro-batch forwards, each a third of 16·1024/145,636 s
    assert case["eval_seconds"] == pytest.approx(41 * 2 * 200 * (16 * 1024 / 145_636) / 3)
    assert case["energy_kwh"] == pytest.approx(4.03, abs=0.01)
    assert case["cost"] == pytest.approx(case["energy_kwh"] * 0.15)
    # the config file itself as a "dataset": its size / 2 tokens
    assert data["dataset_tokens"] == len(SCENARIO_1_CONFIG.encode()) // 2


def test_world_size_splits_grad_accum_and_multiplies_power(config_file, capsys):
    args = parse(config_file, "--gpu", "NVIDIA A100-SXM4-80GB", "--world-size", "4", "--mfu", "0.5", "--json")
    assert plan_report.run(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["grad_accum_per_rank"] == 8
    assert data["tokens_per_iteration"] == 524_288
    assert data["watts"] == 4 * 400
    (case,) = data["durations"]
    assert case["train_seconds"] == pytest.approx(299_983_104 * 10_485_760_000 / (4 * 312e12 * 0.5))
    assert data["memory_verdict"] == "fits"


def test_overrides_win_and_defaults_are_named(config_file, capsys):
    args = parse(config_file, "--override", "max_iters=1000", "--override=--batch_size=8", "--json")
    assert plan_report.run(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["total_tokens"] == 1000 * 8 * 1024 * 32
    assert data["defaulted_keys"] == ["vocab_size"]
    assert data["durations"] == [] and data["memory_verdict"] is None


def test_override_amounts_are_understood_and_bad_file_counts_named_with_them(config_file, tmp_path, capsys):
    assert plan_report.run(parse(config_file, "--override", "max_iters=1k", "--json")) == 0
    assert json.loads(capsys.readouterr().out)["total_tokens"] == 1000 * 524_288
    path = tmp_path / "bad.py"
    path.write_text("max_iters = '20k'\nbatch_size = 2.5\n")
    assert plan_report.run(parse(str(path), "--override", "n_layers=2")) == 2
    err = capsys.readouterr().err
    for problem in ("--override n_layers: unknown trainer setting; did you mean n_layer?",
                    "batch_size: expected a whole number, got 2.5",
                    "max_iters: expected a whole number of 1 or more, got '20k'"):
        assert f"  - {problem}\n" in err


def test_without_a_file_nanogpt_defaults_apply(capsys):
    assert plan_report.run(parse("--json")) == 0
    data = json.loads(capsys.readouterr().out)
    # train.py defaults: GPT-2 124M shape, 12 × 1024 × 40 tokens per iteration, 600,000 iterations
    assert data["tokens_per_iteration"] == 491_520
    assert data["total_tokens"] == 491_520 * 600_000
    assert round(data["parameters"] / 1e6, 2) == 123.59  # vocab 50304, no bias


def test_memory_verdict_will_not_fit(tmp_path, capsys):
    path = tmp_path / "big.py"
    path.write_text("n_layer = 36\nn_head = 20\nn_embd = 1280\nbatch_size = 32\nblock_size = 1024\n")
    assert plan_report.run(parse(str(path), "--gpu", "RTX 4060 Ti")) == 0
    out = capsys.readouterr().out
    assert "WILL NOT FIT" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["{missing}"], "cannot read trainer config"),
        (["{config}", "--gpu", "GTX 1080"], "unknown GPU 'GTX 1080'; known models include"),
        (["{config}", "--override", "nonsense"], "--override"),
        (["{config}", "--override", "max_iter=5000"], "--override max_iter: unknown trainer setting; did you mean max_iters?"),
        (["{config}", "--override", "n_head=5"], "n_embd: 384 is not divisible by n_head=5"),
        (["{config}", "--override", "batch_size=0"], "batch_size: expected a whole number of 1 or more"),
        (["{config}", "--override", "block_size='big'"], "block_size"),
        (["{config}", "--override", "eval_interval=0"], "--override eval_interval: expected a whole number of 1 or more"),
        (["{config}", "--mfu", "1.5"], "write the fraction 0.015 or the percentage 1.5%"),
        (["{config}", "--mfu", "1.5x"], "--mfu"),
        (["{config}", "--dataset", "{missing}"], "cannot read dataset"),
        (["{config}", "--world-size", "3"], "not divisible by world size 3"),
    ],
)
def test_bad_inputs_exit_2_with_one_clear_message(argv, message, config_file, tmp_path, capsys):
    filled = [a.format(config=config_file, missing=str(tmp_path / "missing")) for a in argv]
    assert plan_report.run(parse(*filled)) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert "Traceback" not in captured.err
    assert captured.out == ""


@pytest.mark.parametrize("argv", [["--price", "-1"], ["--params", "abc"], ["--world-size", "0"],
                                  ["--psu-efficiency", "2"], ["--dataset", "a", "--dataset-tokens", "5"]])
def test_bad_flags_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse(*argv)
    assert exit_info.value.code == 2


@pytest.mark.parametrize(("gpu", "expected"), [
    ("RTX 4070", [0.2, 0.3, 0.4]),  # no published run on it: the general default
    ("NVIDIA A100-SXM4-80GB", [0.3, 0.45, 0.6]),  # nanoGPT's 4 days at 29 %, llm.c's 90 minutes at 63 %
    ("H100 SXM", [0.25, 0.35, 0.45]),  # modded-nanogpt and llm.c on 8 × H100: 26-44 %
])
def test_the_default_mfu_is_the_range_published_runs_reached_on_that_gpu(config_file, gpu, expected):
    durations = plan_report.build(parse(config_file, "--gpu", gpu)).durations
    assert [d.mfu for d in durations] == pytest.approx(expected)


def test_an_mfu_given_wins_over_the_gpus_default(config_file):
    args = parse(config_file, "--gpu", "H100 SXM", "--mfu", "0.5")
    assert [d.mfu for d in plan_report.build(args).durations] == [0.5]


def test_the_table_fits_80_columns_with_one_duration_style(tmp_path, capsys):
    path = tmp_path / "gpt2.py"
    path.write_text("batch_size = 12\nblock_size = 1024\ngradient_accumulation_steps = 40\nmax_iters = 600000\n")
    assert plan_report.run(parse(str(path), "--gpu", "RTX 4090", "--dataset-tokens", "9e9", "--other-watts", "80",
                                 "--psu-efficiency", "0.9", "--mfu", "0.2,0.3,0.4,0.9")) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 80
    hours = [int(h) for h in re.findall(r"(\d+) h \d\d min", out)]
    assert hours and max(hours) < 24 and re.search(r"\d+ d \d+ h", out)  # from 24 h on, days and hours
