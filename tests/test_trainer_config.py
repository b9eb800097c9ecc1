"""nanoGPT config files are read with ast, never executed."""

import pytest

from exporter.commands.cli import main
from exporter.trainer.nanogpt import resolve
from exporter.trainer.config_file import ConfigFileError, literal, parse_assignment, parse_override, read_config_file


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


@pytest.mark.parametrize("expression", [
    "1" + "+1" * 1200,  # 1,200 terms: once a RecursionError
    "'x' * 10**18",  # once a MemoryError
    "'a' * 10**8",  # once a 100 MB string
    "'%999999999s' % 'a'",
    "-" * 5000 + "1",
    "(" * 300 + "1" + ")" * 300,
    "10**6**64",
    "10**18 * 10**18",
    "1e308 * 10",
    "(-8) ** 0.5",
    "1e999",
    "1" * 5000,
    "'a' * 5000",
    "1" * 10_000,
])
def test_expressions_out_of_bounds_are_refused_quickly(expression):
    with pytest.raises(ValueError):
        literal(expression)
    assert parse_assignment(f"max_iters = {expression}") is None


def test_bounds_keep_real_configs():
    assert literal("10**18") == 10**18
    assert literal("'a' * 4096") == "a" * 4096
    assert literal("-(2 ** 10) + 6e-4 * 1000") == -1023.4
    assert parse_override("max_iters=1e999") == ("max_iters", "1e999")  # kept as text, refused where it is used


def test_a_latin1_config_is_read_with_a_warning(tmp_path, caplog):
    path = tmp_path / "train.py"
    path.write_bytes("# réglages du café\nmax_iters = 5000\n".encode("latin-1"))
    assert read_config_file(path) == {"max_iters": 5000}
    assert "not UTF-8" in caplog.text and "train.py" in caplog.text


def test_lines_that_cannot_be_read_are_named_by_number(tmp_path, caplog):
    path = tmp_path / "train.py"
    path.write_text("batch_size = 12\nmax_iters = 5000)\nimport os\nout_dir = 'out-' + os.getcwd()\n"
                    "eval_interval = 'x' * 10**18\n    indented = 1\nlog_interval = 10\n")
    assert read_config_file(path) == {"batch_size": 12, "log_interval": 10}
    warned = [record.getMessage() for record in caplog.records]
    assert len(warned) == 3
    assert "line 2 not read" in warned[0] and "unmatched ')'" in warned[0]
    assert "line 4 not read: out_dir" in warned[1]
    assert "line 5 not read: eval_interval" in warned[2]


def test_a_file_of_garbage_warns_about_ten_lines_then_counts(tmp_path, caplog):
    path = tmp_path / "train.py"
    path.write_text("x = (\n" * 25)
    assert read_config_file(path) == {}
    assert len(caplog.records) == 11 and "15 more lines not read" in caplog.records[-1].getMessage()


@pytest.mark.parametrize("content", [b"\x7fELF\x02\x01\x01\x00\x00\x00", b"\x00" * 10])
def test_a_binary_file_is_one_clear_error(tmp_path, content, capsys):
    path = tmp_path / "ls"
    path.write_bytes(content)
    with pytest.raises(ConfigFileError, match=f"{path} is not a text file"):
        read_config_file(path)
    assert main(["plan", str(path)]) == 2
    err = capsys.readouterr().err
    assert "is not a text file" in err and "Traceback" not in err


def test_an_endless_file_is_refused(tmp_path):
    path = tmp_path / "big.py"
    path.write_text("max_iters = 5000\n" * 70_000)
    with pytest.raises(ConfigFileError, match="over 1 MiB"):
        read_config_file(path)
