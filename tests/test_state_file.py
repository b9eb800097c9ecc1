"""The energy state file: whatever is in it, the exporter starts; a corrupt file is kept aside, never
overwritten silently; what it holds is finite and bounded."""

import json
import math

import pytest

from exporter.commands.cli import main
from exporter.energy import EnergyAccount
from exporter.energy.state_file import CorruptState, parse
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
