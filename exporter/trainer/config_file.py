"""Trainer configuration (nanoGPT-style ``name = value`` files and overrides) read with ``ast``:
literal values and simple arithmetic only, never executed, and bounded in the size of the text,
of the expression and of every value it computes."""

from __future__ import annotations

import ast
import itertools
import logging
import math
import operator
import re
import warnings
from pathlib import Path
from typing import Any

from exporter.errors import UsageError

log = logging.getLogger(__name__)

MAX_TEXT = 4096  # characters of a string value
MAX_INT = 10**18  # largest whole number a value may be
MAX_SOURCE = 2 * MAX_TEXT  # characters of one expression or config line
MAX_FILE_BYTES = 1 << 20  # a trainer config file; nanoGPT's are a few hundred bytes
_MAX_NODES = 100  # syntax-tree nodes of one expression, which also bounds its depth
_WARNED_LINES = 10  # unreadable lines of a file warned about one by one

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
# the start of a line that assigns to a name: the only lines a log's config echo is parsed for
_ASSIGNMENT = re.compile(r"[^\W\d]\w*+\s*+=(?!=)")
_SOURCE = "<text read with ast>"
# what the compiler says of odd text (``1if``, ``'\d'``) in a log or config is not worth a warning
warnings.filterwarnings("ignore", module=re.escape(_SOURCE))


class ConfigFileError(UsageError):
    """A trainer config file that cannot be read."""


def _bounded(value: Any) -> Any:
    if isinstance(value, float):
        fits = math.isfinite(value)
    elif isinstance(value, int):  # bool too
        fits = -MAX_INT <= value <= MAX_INT
    elif isinstance(value, str):
        fits = len(value) <= MAX_TEXT
    else:  # a complex number: a negative base to a fractional power
        fits = False
    if not fits:
        raise ValueError(f"a {type(value).__name__} value out of bounds (whole numbers up to 10^18, "
                         f"finite floats, text up to {MAX_TEXT} characters)")
    return value


def _binary(op: ast.operator, left: Any, right: Any) -> Any:
    if isinstance(op, ast.Pow) and (abs(right) > 64 or abs(left) > 10**6):
        raise ValueError("exponent too large")
    if isinstance(op, ast.Mod) and isinstance(left, str):
        raise ValueError("string formatting is not arithmetic")
    if isinstance(op, ast.Mult) and isinstance(left, str) != isinstance(right, str):
        text, times = (left, right) if isinstance(left, str) else (right, left)
        if isinstance(times, int) and len(text) * times > MAX_TEXT:
            raise ValueError(f"text over {MAX_TEXT} characters")
    return _OPERATORS[type(op)](left, right)


def _evaluate(node: ast.AST) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool)):
        return _bounded(node.value)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _OPERATORS:
        return _bounded(_OPERATORS[type(node.op)](_evaluate(node.operand)))
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        return _bounded(_binary(node.op, _evaluate(node.left), _evaluate(node.right)))
    raise ValueError(f"not a literal ({type(node).__name__})")


def _value(node: ast.AST) -> Any:
    """The value of expression ``node``; ValueError for anything but bounded literal arithmetic."""
    if next(itertools.islice(ast.walk(node), _MAX_NODES, None), None) is not None:
        raise ValueError(f"an expression of over {_MAX_NODES} parts")
    try:
        return _evaluate(node)
    except (TypeError, ArithmeticError) as exc:
        raise ValueError(f"cannot be computed ({type(exc).__name__})") from exc


def syntax_tree(text: str, mode: str) -> ast.AST:
    """``ast.parse(text, mode=mode)`` for at most :data:`MAX_SOURCE` characters, without the
    compiler's warnings; ValueError, saying why, for text that is not Python."""
    if len(text) > MAX_SOURCE:
        raise ValueError(f"over {MAX_SOURCE} characters")
    try:
        return ast.parse(text, filename=_SOURCE, mode=mode)
    except SyntaxError as exc:
        raise ValueError(f"not Python ({exc.msg})") from exc
    except (ValueError, RecursionError, MemoryError) as exc:
        raise ValueError(f"not Python ({type(exc).__name__})") from exc


def literal(text: str) -> Any:
    """Evaluate a literal or simple arithmetic expression (``5 * 8``, ``6e-4``, ``'gpt2'``);
    ValueError, saying why, for anything else."""
    return _value(syntax_tree(text.strip(), "eval").body)


def _assignment(line: str) -> tuple[str, Any] | None:
    """``name = literal`` -> ``(name, value)``; None for a line that assigns nothing to a name (a
    comment, an import, a call, an indented line); ValueError, saying why, for one that cannot
    be read (a syntax error, a value that is not a bounded literal)."""
    if line[:1].isspace() or not line.strip() or line.startswith("#"):
        return None
    tree = syntax_tree(line, "exec")
    statement = tree.body[0] if len(tree.body) == 1 else None
    if not isinstance(statement, ast.Assign) or len(statement.targets) != 1 \
            or not isinstance(statement.targets[0], ast.Name):
        return None
    name = statement.targets[0].id
    try:
        return name, _value(statement.value)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from exc


def parse_assignment(line: str) -> tuple[str, Any] | None:
    """``name = literal`` -> ``(name, value)``; anything else (imports, calls, comments) -> None."""
    if len(line) > MAX_SOURCE or not _ASSIGNMENT.match(line):
        return None
    try:
        return _assignment(line)
    except ValueError:
        return None


def parse_override(text: str) -> tuple[str, Any]:
    """A command-line ``key=value`` override (``--max_iters=5000`` style, dashes optional)."""
    key, sep, raw = text.lstrip("-").partition("=")
    if not sep or not key.strip().isidentifier():
        raise ValueError(f"override {text!r} is not key=value")
    try:
        value = literal(raw)
    except ValueError:
        value = raw.strip()
    return key.strip(), value


def _read_text(path: str | Path) -> str:
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigFileError(f"cannot read trainer config {path}: {exc.strerror or exc}") from exc
    if b"\0" in data:
        raise ConfigFileError(f"trainer config {path} is not a text file (it holds NUL bytes): "
                              "give a nanoGPT config such as config/train_gpt2.py")
    if len(data) > MAX_FILE_BYTES:
        raise ConfigFileError(f"trainer config {path} is over {MAX_FILE_BYTES >> 20} MiB: not a nanoGPT config")
    text = data.decode("utf-8", errors="replace")
    if "\ufffd" in text and "\ufffd".encode() not in data:
        log.warning("trainer config %s is not UTF-8 text: its other bytes were read as U+FFFD", path)
    return text


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The simple assignments of a nanoGPT config file, without executing it; a line that cannot
    be read is skipped with a warning naming it."""
    values: dict[str, Any] = {}
    unread = 0
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        try:
            assignment = _assignment(line)
        except ValueError as exc:
            unread += 1
            if unread <= _WARNED_LINES:
                log.warning("trainer config %s line %d not read: %s", path, number, exc)
            continue
        if assignment:
            values[assignment[0]] = assignment[1]
    if unread > _WARNED_LINES:
        log.warning("trainer config %s: %d more lines not read", path, unread - _WARNED_LINES)
    return values
