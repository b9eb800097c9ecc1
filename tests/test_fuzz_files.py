"""scripts/fuzz.py's file cases, a few rounds of each: non-UTF-8 paths, state-file encodings,
progress updates ended by ``\\r``."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

from fuzz_files import CASES, fuzz_files  # noqa: E402


@pytest.mark.parametrize("seed", range(3))
def test_the_file_cases_hold(seed):
    failures = fuzz_files(10, seed)
    assert set(failures) == set(CASES)
    assert failures == {name: [] for name in CASES}
