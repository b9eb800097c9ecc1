"""Where a trainer saves its checkpoints, and what that directory holds now.

The directory is the ``--checkpoint-dir`` flag, else the trainer's ``out_dir`` (nanoGPT's config
or its ``saving checkpoint to DIR`` line) found from where the exporter sees the log: relative to
the log's folder (a log beside the trainer's working directory, or inside ``out_dir`` itself),
else to the exporter's own working directory; else the log's own folder once it holds a
checkpoint (a container that mounts ``out_dir`` with the log in it). Free space comes from
``statvfs``, which works on a read-only mount."""

from __future__ import annotations

import os
from typing import NamedTuple

CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin", ".safetensors")
CHECKPOINT_FOLDERS = ("checkpoint", "ckpt", "step", "global_step")  # name prefixes of one save's folder


class DirectoryReading(NamedTuple):
    free_bytes: int
    latest_bytes: int | None  # the newest checkpoint's size (None: none there)
    entries: int


def _is_checkpoint(entry: os.DirEntry) -> bool:
    if entry.is_file(follow_symlinks=False):
        return entry.name.endswith(CHECKPOINT_SUFFIXES)
    return entry.is_dir(follow_symlinks=False) and entry.name.lower().startswith(CHECKPOINT_FOLDERS)


def _has_checkpoint(path: str) -> bool:
    try:
        with os.scandir(path) as found:
            return any(_is_checkpoint(entry) for entry in found)
    except OSError:
        return False


def resolve(flag: str | None, out_dir: str | None, log_path: str) -> str | None:
    """The checkpoint directory (see the module docstring), or None while none is found."""
    if flag:
        return flag
    log_dir = os.path.dirname(os.path.abspath(log_path)) if log_path else None
    candidates = []
    if out_dir and os.path.isabs(out_dir):
        candidates.append(out_dir)
    elif out_dir:
        if log_dir:
            candidates.append(os.path.join(log_dir, out_dir))
            if os.path.basename(log_dir) == os.path.basename(os.path.normpath(out_dir)):
                candidates.append(log_dir)
        candidates.append(os.path.abspath(out_dir))
    found = next((path for path in candidates if os.path.isdir(path)), None)
    if found is None and log_dir and _has_checkpoint(log_dir):
        return log_dir
    return found


def _size(entry: os.DirEntry) -> int:
    if entry.is_file(follow_symlinks=False):
        return entry.stat(follow_symlinks=False).st_size
    total = 0
    for root, _, files in os.walk(entry.path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def read(path: str) -> DirectoryReading:
    """The free bytes of ``path``'s file system (for an unprivileged user) and its checkpoints;
    raises OSError when the directory cannot be read."""
    stats = os.statvfs(path)
    with os.scandir(path) as found:
        checkpoints = [entry for entry in found if _is_checkpoint(entry)]
    latest = max(checkpoints, key=lambda entry: entry.stat(follow_symlinks=False).st_mtime, default=None)
    return DirectoryReading(stats.f_bavail * stats.f_frsize, None if latest is None else _size(latest),
                            len(checkpoints))
