"""What can go wrong, said once: the base of every mistake a user can fix, and a logger that
does not repeat itself."""

from __future__ import annotations

import logging
from typing import Any


class UsageError(ValueError):
    """A mistake the user can fix (a flag, a config key, a file they named); the message names
    the problem and the fix. The command line prints it and exits with status 2."""


class LogOnce:
    """Logs each distinct problem once, until :meth:`clear` (a success) forgets what was said."""

    def __init__(self, logger: logging.Logger, level: int = logging.WARNING) -> None:
        self._logger = logger
        self._level = level
        self._said: set[Any] = set()

    def __call__(self, key: Any, message: str, *args: Any, exc_info: bool | BaseException = False) -> None:
        """Log ``message % args`` unless ``key`` was already logged since the last clear."""
        if key in self._said:
            return
        self._said.add(key)
        self._logger.log(self._level, message, *args, exc_info=exc_info)

    def clear(self) -> None:
        self._said.clear()
