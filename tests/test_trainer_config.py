"""nanoGPT config files are read with ast, never executed."""

import pytest

from exporter.nanogpt import resolve
from exporter.trainer_config import ConfigFileError, literal, parse_assignment, parse_override, read_config_file


def test_reads_literals_and_arithmetic(tmp_path):
    path = tmp_path / "train_gpt2.py"
    path.write_text(
        "# config for training GPT-2 (124M)\n"
        "import time\n"
        "wandb_run_name = 'gpt2-124M-' + str(time.time())\n"
        "batch_size = 12\n"
        "gradient_accumulation_steps = 5 * 8\n"
        "learning_rate = 6e-4\n"
        "bias = False\n"
        "max_iters = 600_000\n"
        "open('/tmp/pwned', 'w')\n"
    )
    values = read_config_file(path)
    assert values == {"batch_size": 12, "gradient_accumulation_steps": 40, "learning_rate": 6e-4, "bias": False,
                      "max_iters": 600000}


def test_unreadable_file_names_the_path(tmp_path):
    with pytest.raises(ConfigFileError, match="nope.py"):
        read_config_file(tmp_path / "nope.py")


def test_overrides_and_literals():
    assert parse_override("max_iters=5000") == ("max_iters", 5000)
    assert parse_override("--dataset=shakespeare_char") == ("dataset", "shakespeare_char")
    assert literal("2 ** 10") == 1024
    with pytest.raises(ValueError):
        parse_override("no equals sign")
    with pytest.raises(ValueError):
        literal("__import__('os')")
    assert parse_assignment("x = 10 ** 10 ** 10") is None  # refused, not computed


def test_resolve_layers_over_defaults():
    merged = resolve({"max_iters": 20000}, {"max_iters": 5000, "eval_interval": 250})
    assert merged["max_iters"] == 5000 and merged["eval_interval"] == 250 and merged["eval_iters"] == 200
