"""Configuration: defaults, every problem reported at once with its key, no half-valid config."""

import dataclasses

import pytest

from exporter.config import GPU_LIST, INTEGER, NUMBER, RANGES, TEXT, Config, ConfigError, load
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
        assert set(field.metadata["commands"]) <= {"serve", "status"}
    assert RANGES["psu_efficiency"] == (0.05, 1.0) and RANGES["port"] == (1, 65535)
    assert issubclass(ConfigError, UsageError)
