"""What several test files share: the repository's paths, the shipped Prometheus rules,
scripts/local_stack.py (loaded once per session) and writing a generated trainer log.

Test files import the plain names (``from conftest import ROOT``); fixtures are found by pytest."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
PROMETHEUS_DIR = ROOT / "prometheus"
RULE_FILES = sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))


def load_rules(paths: Iterable[Path] = RULE_FILES) -> list[dict]:
    """Every rule (alerting and recording) of the given rule files, in file and group order."""
    return [
        rule
        for path in paths
        for group in yaml.safe_load(Path(path).read_text())["groups"]
        for rule in group["rules"]
    ]


def write_log(path: Path, lines: Iterable[str], *, append: bool = False) -> Path:
    """Write (or append) ``lines`` to ``path`` as a trainer prints them, one per line."""
    with open(path, "a" if append else "w") as log:
        log.write("".join(f"{line}\n" for line in lines))
    return path


@pytest.fixture(scope="session")
def local_stack() -> ModuleType:
    """scripts/local_stack.py (a script, not a package), loaded once for the whole session."""
    spec = importlib.util.spec_from_file_location("local_stack", ROOT / "scripts" / "local_stack.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def sinks():
    """``make(*script)``: a local HTTP sink (tests/http_sink.py) that answers as scripted; all
    closed after the test."""
    from http_sink import HttpSink

    made = []

    def make(*script, **kwargs):
        made.append(HttpSink(*script, **kwargs))
        return made[-1]

    yield make
    for sink in made:
        sink.close()
