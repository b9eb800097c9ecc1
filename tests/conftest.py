"""What several test files share: the repository's paths, the shipped Prometheus rules,
scripts/local_stack.py (loaded once per session), writing a generated trainer log, and the run
endings scenario that plays in the background from the session's start (tests/endings_scenario.py).

Test files import the plain names (``from conftest import ROOT``); fixtures are found by pytest."""

from __future__ import annotations

import importlib.util
import signal
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


def pytest_configure(config):
    """Started as a background job of a script (``pytest &``, a CI runner's shell), this process
    holds SIGINT and SIGQUIT ignored, and every trainer and wrapper the tests start would inherit
    that: their Ctrl-C would be the "ignored" ending. The children start as from a terminal."""
    for signum, handler in ((signal.SIGINT, signal.default_int_handler), (signal.SIGQUIT, signal.SIG_DFL)):
        if signal.getsignal(signum) == signal.SIG_IGN:
            signal.signal(signum, handler)


ENDINGS_MODULE = "test_run_endings_alertmanager_e2e.py"


def pytest_collection_modifyitems(items):
    """The endings module last, so that its scenario has played meanwhile (the others keep their order)."""
    items.sort(key=lambda item: item.path.name == ENDINGS_MODULE)


@pytest.fixture(scope="session")
def endings_scenario(tmp_path_factory, local_stack):
    """The run endings through a real Prometheus and Alertmanager, playing in a thread of their own."""
    from endings_scenario import Scenario

    scenario = Scenario(tmp_path_factory.mktemp("endings"), local_stack).start()
    yield scenario
    scenario.close()


@pytest.fixture(scope="session", autouse=True)
def _endings_from_the_start(request, local_stack):
    """Start the endings scenario with the session when its module is among the tests to run and
    Prometheus and Alertmanager are installed: about 12 minutes of waiting the other modules fill."""
    if not local_stack.missing_binaries() and any(item.path.name == ENDINGS_MODULE for item in request.session.items):
        request.getfixturevalue("endings_scenario")


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
