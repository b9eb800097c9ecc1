"""Reading a YAML file the user named: one ValueError that says what is wrong with it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def read_yaml(path: str) -> Any:
    """The YAML document at ``path``; an unreadable or malformed file is a ValueError saying which."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read the file: {exc.strerror or exc}") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"not valid YAML: {exc}") from exc
