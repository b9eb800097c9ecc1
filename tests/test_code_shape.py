"""The package keeps its shape: small modules, short functions, and the whole configuration handed
out only where the commands are wired."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "exporter"
MODULES = sorted(PACKAGE.rglob("*.py"))
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 50
# the command line, and the wiring of each command, hand each part only its own settings
WIRING = "commands"


def _name(path: Path) -> str:
    return str(path.relative_to(PACKAGE))


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_module_is_small(path):
    assert len(path.read_text(encoding="utf-8").splitlines()) <= MAX_MODULE_LINES


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_functions_are_short(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    long = [f"{node.name} ({node.end_lineno - node.lineno + 1} lines)" for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert not long


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_only_the_wiring_imports_the_whole_config(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imports_config = any(
        isinstance(node, ast.ImportFrom) and node.module == "exporter.commands.config"
        and any(alias.name == "Config" for alias in node.names)
        for node in ast.walk(tree)
    )
    assert not imports_config or path.parent.name == WIRING
