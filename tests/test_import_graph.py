"""The packages of ``exporter/`` import in one direction only: each from its own layer or those
below it (the shared modules at the bottom, the commands at the top), and no module imports itself
back through others. Read with ``ast``, so an import under ``TYPE_CHECKING`` or inside a function
counts too."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "exporter"
ARCHITECTURE = PACKAGE.parent / "docs" / "architecture.md"

# Lowest first. A unit is a package under exporter/ or a module at its top.
LAYERS = (
    {"__init__", "errors", "events", "units", "yaml_file", "threads"},  # shared by every package
    {"gpu", "server"},
    {"plan"},
    {"trainer"},
    {"formats"},
    {"health"},
    {"run"},
    {"log", "energy"},
    {"run_set"},
    {"alerts"},
    {"notify", "collectors", "web"},
    {"commands", "__main__"},
)
LEVEL = {unit: level for level, units in enumerate(LAYERS) for unit in units}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str) -> set[str]:
    """The exporter modules ``name`` imports (``from exporter.x import y`` names module x.y where
    there is one, else x)."""
    found = set()
    for node in ast.walk(ast.parse(MODULES[name].read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "exporter":
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in MODULES else node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "exporter"}
    return found - {name}


GRAPH = {name: _imports(name) for name in MODULES}


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_unit_has_a_layer():
    assert {_unit(name) for name in MODULES} - LEVEL.keys() == set()


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_go_down_the_layers(name):
    upward = sorted(target for target in GRAPH[name] if LEVEL[_unit(target)] > LEVEL[_unit(name)])
    assert upward == [], f"{name} imports a higher layer"


def _cycle() -> list[str] | None:
    """One import circle among the modules, or None (depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        path.append(name)
        for target in sorted(GRAPH.get(name, ())):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state and (found := visit(target)):
                return found
        path.pop()
        state[name] = 2
        return None

    for name in sorted(GRAPH):
        if name not in state and (found := visit(name)):
            return found
    return None


def test_no_import_circles():
    assert _cycle() is None


def test_the_cycle_finder_finds_a_circle():
    GRAPH["exporter.errors"].add("exporter.units")
    GRAPH["exporter.units"].add("exporter.errors")
    try:
        assert _cycle() is not None
    finally:
        GRAPH["exporter.errors"].discard("exporter.units")
        GRAPH["exporter.units"].discard("exporter.errors")


def test_the_architecture_page_names_every_package():
    text = ARCHITECTURE.read_text(encoding="utf-8")
    packages = sorted(path.parent.name for path in PACKAGE.glob("*/__init__.py"))
    assert [name for name in packages if f"`exporter/{name}/`" not in text] == []
