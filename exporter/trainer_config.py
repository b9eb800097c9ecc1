"""Trainer configuration (nanoGPT-style ``name = value`` files and overrides) read with ``ast``:
literal values and simple arithmetic only, never executed."""

from __future__ import annotations

import ast
import operator
from pathlib import Path
from typing import Any

from exporter.errors import UsageError

_OPERATORS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Pow: operator.pow,
    ast.Mod: operator.mod,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}


class ConfigFileError(UsageError):
    """A trainer config file that cannot be read."""


def _evaluate(node: ast.AST) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool)):
        return node.value
    if isinstance(node, ast.UnaryOp) and type(node.op) in _OPERATORS:
        return _OPERATORS[type(node.op)](_evaluate(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow) and (abs(right) > 64 or abs(left) > 10**6):
            raise ValueError("exponent too large")
        return _OPERATORS[type(node.op)](left, right)
    raise ValueError(f"not a literal: {ast.dump(node)[:60]}")


def literal(text: str) -> Any:
    """Evaluate a literal or simple arithmetic expression (``5 * 8``, ``6e-4``, ``'gpt2'``)."""
    return _evaluate(ast.parse(text.strip(), mode="eval").body)


def parse_assignment(line: str) -> tuple[str, Any] | None:
    """``name = literal`` -> ``(name, value)``; anything else (imports, calls, comments) -> None."""
    if "=" not in line or line[:1].isspace():
        return None
    try:
        tree = ast.parse(line)
    except (SyntaxError, ValueError):
        return None
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Assign):
        return None
    statement = tree.body[0]
    if len(statement.targets) != 1 or not isinstance(statement.targets[0], ast.Name):
        return None
    try:
        return statement.targets[0].id, _evaluate(statement.value)
    except (ValueError, TypeError, ArithmeticError, OverflowError):
        return None


def parse_override(text: str) -> tuple[str, Any]:
    """A command-line ``key=value`` override (``--max_iters=5000`` style, dashes optional)."""
    key, sep, raw = text.lstrip("-").partition("=")
    if not sep or not key.strip().isidentifier():
        raise ValueError(f"override {text!r} is not key=value")
    try:
        value = literal(raw)
    except (SyntaxError, ValueError, TypeError, ArithmeticError):
        value = raw.strip()
    return key.strip(), value


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The simple assignments of a nanoGPT config file, without executing it."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigFileError(f"cannot read trainer config {path}: {exc.strerror or exc}") from exc
    values: dict[str, Any] = {}
    for line in text.splitlines():
        assignment = parse_assignment(line)
        if assignment:
            values[assignment[0]] = assignment[1]
    return values
