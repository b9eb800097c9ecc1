"""The energy state file: whatever is in it, the exporter starts; a corrupt file is kept aside, never
overwritten silently; what it holds is finite and bounded."""

import json
import math

import pytest

from exporter.commands.cli import main
from exporter.energy import EnergyAccount
from exporter.energy.state_file import CorruptState, parse
from exporter.energy.store import StateStore
from nanogpt_fixture import preamble, progress_lines

GOOD = {"version": 1, "run": "r", "energy_joules": 1000.0, "readings": {"GPU-1": 5.0}}
CORRUPT = [
    '{"version": 1, "run": "r", "energy_joules": NaN, "readings": {}}',
    '{"version": 1, "run": "r", "energy_joules": Infinity, "readings": {}}',
    '{"version": 1, "run": "r", "energy_joules": -5, "readings": {}}',
    '{"version": 1, "run": "r", "energy_joules": 1' + "0" * 400 + ', "readings": {}}',
    '{"version": 1, "run": "r", "energy_joules": 1' + "0" * 5000 + ', "readings": {}}',
    '{"version": 1, "run": "r", "energy_joules": 5, "readings": {"GPU-1": "a lot"}}',
    '{"version": 1, "run": "r", "energy_joules": 5, "readings": [1, 2]}',
    '{"version": 1, "run": "r", "energy_joules": 5, "power_watts": NaN}',
    '[' * 100_000 + ']' * 100_000,
    'not json at all',
    '{"run": 5}',
]


def test_a_good_state_is_read():
    state = parse(json.dumps(GOOD))
    assert (state.run, state.energy_joules, state.readings) == ("r", 1000.0, {"GPU-1": 5.0})


@pytest.mark.parametrize("text", CORRUPT, ids=range(len(CORRUPT)))
def test_a_corrupt_state_is_refused(text):
    with pytest.raises(CorruptState):
        parse(text)


@pytest.mark.parametrize("text", CORRUPT, ids=range(len(CORRUPT)))
def test_a_corrupt_file_is_kept_aside_and_the_run_counts_from_zero(text, tmp_path, caplog):
    path = tmp_path / "state.json"
    path.write_text(text)
    account = EnergyAccount("r", state_file=str(path))
    assert not account.resumed and account.energy_joules() == 0
    aside = list(tmp_path.glob("state.json.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_text() == text
    assert "was corrupt" in caplog.text and str(aside[0]) in caplog.text
    account.update({"GPU-1": 0.0}, now=0.0)
    account.update({"GPU-1": 50.0}, now=1.0)
    account.flush()
    saved = json.loads(path.read_text())
    assert saved["energy_joules"] == 50.0 and all(math.isfinite(v) for v in saved["readings"].values())


def test_status_prices_energy_at_the_tariff_it_was_served_with(tmp_path, capsys):
    log = tmp_path / "train.log"
    log.write_text("\n".join(preamble() + progress_lines(0, 1300)) + "\n")
    state = tmp_path / "state.json"
    state.write_text(json.dumps({**GOOD, "run": "train", "energy_joules": 7.2e6, "price_per_kwh": 0.4,
                                 "currency": "EUR"}))
    assert main(["status", str(log), "--state-file", str(state)]) == 0
    assert "energy so far 2.00 kWh, 0.800 EUR" in capsys.readouterr().out  # below 1, three places as on the page


UNDECODABLE = [
    json.dumps({"version": 1, "run": "r", "energy_joules": 5_000_000.0, "readings": {}}).encode().replace(b'"r"', b'"r\xff"'),
    json.dumps({"version": 1, "run": "r", "energy_joules": 5_000_000.0, "readings": {}}).encode("utf-16"),
    b"\xef\xbb\xbf" + json.dumps({"version": 1, "run": "r", "energy_joules": 5_000_000.0}).encode(),
]


@pytest.mark.parametrize("data", UNDECODABLE, ids=["xff-byte", "utf-16-bom", "utf-8-bom"])
def test_a_state_file_that_is_not_utf8_json_is_kept_aside_not_overwritten(data, tmp_path, caplog):
    path = tmp_path / "state.json"
    path.write_bytes(data)
    account = EnergyAccount("r", state_file=str(path))
    assert not account.resumed
    aside = list(tmp_path.glob("state.json.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == data
    assert "was corrupt" in caplog.text and str(aside[0]) in caplog.text
    account.update({"GPU-1": 0.0}, now=0.0)
    account.update({"GPU-1": 50.0}, now=1.0)
    account.flush()
    assert json.loads(path.read_text())["energy_joules"] == 50.0
    assert aside[0].read_bytes() == data


def _save(account, joules):
    account.update({"GPU-1": 0.0}, now=0.0)
    account.update({"GPU-1": joules}, now=1.0)
    account.flush()


@pytest.mark.parametrize("document", [
    {"version": 1, "run": "someone-else", "energy_joules": 5_000_000.0, "readings": {}},
    {"version": 2, "runs": [{"run": "someone-else", "energy_joules": 5_000_000.0, "readings": {}},
                            {"run": "other", "energy_joules": 7.0, "readings": {}}]},
], ids=["version-1", "version-2"])
def test_other_runs_states_are_kept_when_the_file_is_written(document, tmp_path):
    path = tmp_path / "state.json"
    path.write_text(json.dumps(document))
    _save(EnergyAccount("mine", state_file=str(path)), 50.0)
    saved = {s["run"]: s["energy_joules"] for s in json.loads(path.read_text())["runs"]}
    before = document["runs"] if "runs" in document else [document]
    assert saved == {"mine": 50.0, **{s["run"]: s["energy_joules"] for s in before}}


def test_the_states_kept_for_other_runs_are_bounded_newest_first(tmp_path, caplog):
    path = tmp_path / "state.json"
    others = [{"run": f"old{i}", "energy_joules": 1.0, "updated_at": float(i)} for i in range(10)]
    path.write_text(json.dumps({"version": 2, "runs": others}))
    _save(EnergyAccount("mine", state_file=str(path), store=StateStore(path, max_states=4)), 50.0)
    assert [s["run"] for s in json.loads(path.read_text())["runs"]] == ["mine", "old9", "old8", "old7"]
    assert "holds at most 4 states" in caplog.text
