"""Which GPUs to watch: ``gpus`` from the config, else ``CUDA_VISIBLE_DEVICES``, else all."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from exporter.config import Config

log = logging.getLogger(__name__)


def parse_selection(entries: Iterable[str]) -> list[str]:
    """``["0,1", " GPU-ab"]`` -> ``["0", "1", "GPU-ab"]`` (CUDA_VISIBLE_DEVICES style)."""
    return [part.strip() for entry in entries for part in str(entry).split(",") if part.strip()]


def select_devices(selection: list[str] | None, devices: list[tuple[int, str]]) -> tuple[list[int], list[str]]:
    """Indices of the ``(index, uuid)`` devices that ``selection`` names (all when None), in index
    order, and a problem message for each entry that names no single device."""
    if selection is None:
        return [index for index, _ in devices], []
    chosen: set[int] = set()
    problems = []
    for entry in selection:
        if entry.isdigit():
            matches = [index for index, _ in devices if index == int(entry)]
        else:
            prefix = entry.lower() if entry.lower().startswith("gpu-") else f"gpu-{entry.lower()}"
            matches = [index for index, uuid in devices if uuid.lower().startswith(prefix)]
        if len(matches) == 1:
            chosen.add(matches[0])
        elif matches:
            problems.append(f"{entry!r} matches {len(matches)} GPUs; give more of the UUID")
        else:
            problems.append(f"{entry!r} is not a GPU index or UUID on this machine")
    return sorted(chosen), problems


def selection_from(config: Config, environ: Mapping[str, str]) -> list[str] | None:
    if config.gpus is not None:
        return parse_selection(config.gpus)
    visible = environ.get("CUDA_VISIBLE_DEVICES", "").strip()
    if visible:
        log.info("watching the GPUs in CUDA_VISIBLE_DEVICES=%s (NVML / nvidia-smi numbering)", visible)
        return parse_selection([visible])
    return None
