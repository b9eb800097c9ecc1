"""Configuration: defaults, every problem reported at once with its key, no half-valid config."""

import dataclasses
from pathlib import Path

import pytest

from exporter.commands.config import COUNT, GPU_LIST, INTEGER, NUMBER, RANGES, TEXT, Config, ConfigError, load
from exporter.errors import UsageError
from exporter.formats import FORMAT_NAMES


def test_defaults_bind_to_localhost():
    config = load(None)
    assert config == Config()
    assert config.listen_address == "127.0.0.1" and config.port == 9842
    assert config.price_per_kwh == 0.15 and config.currency == "USD"


def test_yaml_file_and_flags(tmp_path):
    path = tmp_path / "exporter.yml"
    path.write_text("log: out/train.log\nprice_per_kwh: 0.31\ncurrency: EUR\noverrides: {eval_interval: 250}\n")
    config = load(str(path), {"port": 9900, "overrides": {"max_iters": 5000}, "run": None})
    assert config.log == "out/train.log" and config.price_per_kwh == 0.31 and config.port == 9900
    assert config.overrides == {"eval_interval": 250, "max_iters": 5000}


def test_every_bad_key_is_reported_at_once(tmp_path):
    path = tmp_path / "exporter.yml"
    path.write_text("price_per_kwh: -1\nprot: 9842\nport: 70000\ncurrency: 5\nformat: fancy\n")
    with pytest.raises(ConfigError) as error:
        load(str(path))
    text = str(error.value)
    for key in ("price_per_kwh", "prot: unknown key", "port", "currency", "format"):
        assert key in text
    assert str(path) in text
    assert len(error.value.problems) == 5


def test_unreadable_or_malformed_files_name_the_path(tmp_path):
    with pytest.raises(ConfigError, match="missing.yml"):
        load(str(tmp_path / "missing.yml"))
    bad = tmp_path / "bad.yml"
    bad.write_text("port: [1,\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load(str(bad))
    listing = tmp_path / "list.yml"
    listing.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        load(str(listing))


def test_booleans_are_not_numbers_and_nan_is_rejected():
    with pytest.raises(ConfigError) as error:
        load(None, {"port": True, "other_watts": float("nan"), "gpus": [{"a": 1}]})
    assert len(error.value.problems) == 3


def test_custom_format_needs_its_file():
    with pytest.raises(ConfigError, match="custom_format_file"):
        load(None, {"format": "custom"})


def test_accepted_formats_are_the_registry():
    (format_field,) = [f for f in dataclasses.fields(Config) if f.name == "format"]
    assert format_field.metadata["choices"] == FORMAT_NAMES
    for name in FORMAT_NAMES:
        assert load(None, {"format": name, "custom_format_file": "mine.yml"}).format == name
    with pytest.raises(ConfigError, match=", ".join(FORMAT_NAMES)):
        load(None, {"format": "fancy"})


def test_flag_text_is_read_as_its_keys_kind():
    assert INTEGER.from_text("9900") == 9900 and NUMBER.from_text("60") == 60.0
    assert GPU_LIST.from_text("0, GPU-1,") == ["0", "GPU-1"] and TEXT.from_text("EUR") == "EUR"


def test_unreadable_flag_text_is_reported_with_the_others():
    flags = {"port": INTEGER.from_text("lots"), "psu_efficiency": NUMBER.from_text("nan"),
             "trainer_pid": INTEGER.from_text("0"), "prot": "1"}
    with pytest.raises(ConfigError) as error:
        load(None, flags)
    assert len(error.value.problems) == 4
    assert "port: expected an integer, got 'lots'" in error.value.problems


def test_every_field_has_flag_metadata_and_errors_are_usage_errors():
    for field in dataclasses.fields(Config):
        assert field.metadata["help"] and field.metadata["metavar"], field.name
        assert set(field.metadata["commands"]) <= {"serve", "status", "slack-test", "notify-test"}
    assert RANGES["psu_efficiency"] == (0.05, 1.0) and RANGES["port"] == (1, 65535)
    assert issubclass(ConfigError, UsageError)


def test_overrides_are_read_as_the_trainer_settings_they_name():
    config = load(None, {"overrides": {"max_iters": "20k", "eval_interval": 500.0, "dataset": "shakespeare"}})
    assert config.overrides == {"max_iters": 20_000, "eval_interval": 500, "dataset": "shakespeare"}
    assert load(None, {"max_iters": COUNT.from_text("2e4")}).max_iters == 20_000


def test_every_bad_override_is_reported_at_once_by_name(tmp_path):
    path = tmp_path / "exporter.yml"
    path.write_text("overrides: {max_iter: 5000, batch_size: -1, n_embd: 1.5, block_size: big, vocab_size: true}\n")
    with pytest.raises(ConfigError) as error:
        load(str(path))
    assert error.value.problems == [
        "overrides.max_iter: unknown trainer setting; did you mean max_iters?",
        "overrides.batch_size: expected a whole number of 1 or more, got -1",
        "overrides.n_embd: expected a whole number, got 1.5",
        "overrides.block_size: 'big' is not a number; write a whole number such as 5000, 5k or 5e3",
        "overrides.vocab_size: expected a whole number of 1 or more, got True",
    ]


def test_an_unknown_key_is_answered_with_the_closest_one():
    with pytest.raises(ConfigError) as error:
        load(None, {"prot": 1, "zzz": 2})
    assert error.value.problems[0] == "prot: unknown key; did you mean port?"
    assert error.value.problems[1].startswith("zzz: unknown key (known: alert_for_cap_seconds, budget, carbon_g_per_kwh, checkpoint_dir,")


def test_the_command_lines_problems_come_with_the_files(tmp_path):
    path = tmp_path / "exporter.yml"
    path.write_text("port: 0\n")
    with pytest.raises(ConfigError) as error:
        load(str(path), {"currency": "EUR"}, ["--override: override 'x' is not key=value"])
    assert str(error.value).startswith(f"invalid configuration in {path} and the command line:")
    assert error.value.problems == ["--override: override 'x' is not key=value", "port: 0 is outside 1..65535"]
    with pytest.raises(ConfigError, match="cannot read the file") as error:
        load(str(tmp_path / "missing.yml"), {}, ["--override: override 'x' is not key=value"])
    assert len(error.value.problems) == 2


def test_the_readme_configuration_table_lists_every_key():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Configuration"):readme.index("\n## ", readme.index("## Configuration") + 1)]
    rows = [line.split("`")[1] for line in section.splitlines() if line.startswith("| `")]
    assert rows == [field.name for field in dataclasses.fields(Config)]
