"""Names from the file system as text: a path or a folder name that is not valid UTF-8 reaches
Python with each undecodable byte as a lone surrogate (``surrogateescape``), which no label, JSON
document or terminal can carry. As text, each such byte is written ``\\xff``."""

from __future__ import annotations


def as_text(name: str) -> str:
    """``name`` with each undecodable byte (or any lone surrogate) written as an escape; valid text
    is returned unchanged."""
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        pass
    try:
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that stands for no byte
        return name.encode("utf-8", "backslashreplace").decode("utf-8")
