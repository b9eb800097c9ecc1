"""Basic auth against bcrypt hashes, with the cost of bcrypt kept off the path of repeated
scrapes: a check that passed is remembered for a short while per (user, hash, password digest),
so 50 scrapers a second pay one bcrypt each per minute, not one per request, and scrapers that
arrive together with the same credentials wait for one check rather than each making its own. A
wrong password is
never remembered as right (the digest is of the password presented), failures are counted, and no
password or hash ever reaches a log line."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping

import bcrypt

REMEMBER_SECONDS = 60.0
REMEMBERED = 1024  # checks that passed, at most; the oldest is forgotten first
CHALLENGE = 'Basic realm="training-exporter", charset="UTF-8"'


class BasicAuth:
    def __init__(self, users: Mapping[str, bytes], clock: Callable[[], float] = time.monotonic) -> None:
        self._users = dict(users)
        self._clock = clock
        self._key = os.urandom(32)  # digests of passwords only mean something to this process
        self._passed: OrderedDict[tuple[str, bytes, bytes], float] = OrderedDict()
        self._checking: dict[tuple[str, bytes, bytes], threading.Lock] = {}  # one bcrypt at a time per key
        self._lock = threading.Lock()
        self.failures = 0

    def allows(self, authorization: str | None) -> bool:
        """Whether the ``Authorization`` header names a user with its password; a failure is counted."""
        credentials = _credentials(authorization)
        allowed = credentials is not None and self._check(*credentials)
        if not allowed:
            with self._lock:
                self.failures += 1
        return allowed

    def _check(self, user: str, password: bytes) -> bool:
        hashed = self._users.get(user)
        if hashed is None or len(password) > 72:  # bcrypt reads 72 bytes at most
            return False
        key = (user, hashed, hmac.new(self._key, password, hashlib.sha256).digest())
        with self._lock:
            checking = self._checking.setdefault(key, threading.Lock())
        with checking:  # a check of the same credentials under way is waited for, then remembered
            if self._remembered(key):
                return True
            passed = matches(password, hashed)
            with self._lock:
                self._checking.pop(key, None)
                if passed:
                    self._passed[key] = self._clock() + REMEMBER_SECONDS
                    self._passed.move_to_end(key)
                    while len(self._passed) > REMEMBERED:
                        self._passed.popitem(last=False)
        return passed

    def _remembered(self, key: tuple[str, bytes, bytes]) -> bool:
        with self._lock:
            until = self._passed.get(key)
            return until is not None and until > self._clock()


def matches(password: bytes, hashed: bytes) -> bool:
    """bcrypt's verdict; a hash bcrypt cannot read matches nothing."""
    try:
        return bcrypt.checkpw(password, hashed)
    except ValueError:
        return False


def _credentials(authorization: str | None) -> tuple[str, bytes] | None:
    """The user and password of a ``Basic`` header, or None."""
    if not authorization:
        return None
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, colon, password = decoded.partition(b":")
    if not colon:
        return None
    return user.decode("utf-8", errors="replace"), password
