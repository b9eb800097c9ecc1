"""What a path or a file's first bytes are when they are not a training log a person can fix by
passing another path: a directory, a pipe, a device, a UTF-16 or binary file."""

from __future__ import annotations

import os
import stat

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a pipe (FIFO), which can be read only once"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def not_a_log_file(path: str) -> str | None:
    """Why ``path`` cannot be followed as a log (``'… is a directory'``), or None for a regular
    file or one that does not exist yet."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    for test, kind in _KINDS:
        if test(mode):
            return f"{path!r} is {kind}, not a log file"
    return None


def text_problem(head: bytes) -> str | None:
    """What is wrong with a log whose first bytes are ``head``, when it is not UTF-8 text: UTF-16
    (with or without its byte-order mark) or binary; None when it looks like text."""
    if _utf16(head):
        return ("the log is UTF-16 text; the exporter reads UTF-8: have the trainer write UTF-8 "
                "(PYTHONIOENCODING=utf-8, or Out-File -Encoding utf8 in PowerShell), or convert it with "
                "iconv -f UTF-16 -t UTF-8")
    controls = sum(byte < 9 or 13 < byte < 32 for byte in head)
    undecodable = head[:-3].decode("utf-8", errors="replace").count("\ufffd")  # a character may be cut at the end
    if head and (controls > len(head) // 20 or undecodable > len(head) // 10):
        return "the log is binary, not text: pass the trainer's text log (what it prints), not a checkpoint or data file"
    return None


def _utf16(head: bytes) -> bool:
    """A byte-order mark, or ASCII text with a zero byte beside each character."""
    if head.startswith(UTF16_BOMS):
        return True
    even, odd = head[0::2], head[1::2]
    return len(head) >= 8 and ((odd.count(0) >= len(odd) - 1 and 0 not in even)
                               or (even.count(0) >= len(even) - 1 and 0 not in odd))
