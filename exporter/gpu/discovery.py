"""Which GPUs to watch: the ``gpus`` setting, else ``CUDA_VISIBLE_DEVICES``, else all; found
through NVML, with each model's peak FLOP/s from the spec table."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from exporter.gpu.device import Device, device_by_index, device_count
from exporter.gpu.nvml import GpuLost, Nvml, NvmlUnavailable
from exporter.gpu.watched import WatchedGpu

log = logging.getLogger(__name__)

SpecLookup = Callable[[str], Any]  # GPU name -> spec with ``bf16_dense_flops``, or None


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


def selection_from(gpus: list[str] | None, environ: Mapping[str, str]) -> list[str] | None:
    """The ``gpus`` setting, else ``CUDA_VISIBLE_DEVICES``, else None (every GPU)."""
    if gpus is not None:
        return parse_selection(gpus)
    visible = environ.get("CUDA_VISIBLE_DEVICES", "").strip()
    if visible:
        log.info("watching the GPUs in CUDA_VISIBLE_DEVICES=%s (NVML / nvidia-smi numbering)", visible)
        return parse_selection([visible])
    return None


def discover(nvml: Nvml, selection: list[str] | None, spec_lookup: SpecLookup) -> list[WatchedGpu]:
    """The selected GPUs that answer, with their static values read; raises NvmlUnavailable
    when there are none."""
    devices = _answering_devices(nvml)
    found = ", ".join(f"{index} {uuid}" for index, uuid, _ in devices) or "none"
    chosen, problems = select_devices(selection, [(index, uuid) for index, uuid, _ in devices])
    for problem in problems:
        log.warning("GPU selection: %s (GPUs found: %s)", problem, found)
    if not chosen:
        wanted = "" if selection is None else f" matching {','.join(selection)}"
        raise NvmlUnavailable(f"no NVIDIA GPU{wanted} was found (GPUs found: {found})")
    watched = [_watch(index, uuid, device) for index, uuid, device in devices if index in chosen]
    gpus = [gpu for gpu in watched if gpu is not None]
    if not gpus:
        raise NvmlUnavailable("none of the selected GPUs answered at start-up")
    peaks = peak_flops_by_name({gpu.name for gpu in gpus}, spec_lookup)
    for gpu in gpus:
        gpu.peak_flops = peaks[gpu.name]
    return gpus


def _answering_devices(nvml: Nvml) -> list[tuple[int, str, Device]]:
    """``(index, uuid, device)`` of every GPU that tells its UUID."""
    devices = []
    for index in range(device_count(nvml)):
        try:
            device = device_by_index(nvml, index)
            uuid = None if device is None else device.uuid()
        except GpuLost as exc:
            log.warning("GPU %d did not answer at start-up (%s); it is not watched", index, exc)
            continue
        if uuid is not None:
            devices.append((index, uuid, device))
    return devices


def _watch(index: int, uuid: str, device: Device) -> WatchedGpu | None:
    try:
        gpu = WatchedGpu(index=index, uuid=uuid, name=device.name() or "unknown", device=device)
        gpu.read_static()
    except GpuLost as exc:
        log.warning("GPU %d (%s) did not answer at start-up (%s); it is not watched", index, uuid, exc)
        return None
    return gpu


def default_spec_lookup(name: str) -> Any:
    from exporter.gpu.specs import lookup  # noqa: PLC0415 - the spec table is only needed here

    return lookup(name)


def peak_flops_by_name(names: set[str], spec_lookup: SpecLookup) -> dict[str, float | None]:
    """Dense bf16 peak of each GPU model; an unknown model is logged once."""
    peaks: dict[str, float | None] = {}
    for name in sorted(names):
        try:
            spec = spec_lookup(name)
        except ImportError as exc:
            log.warning("the GPU spec table is unavailable (%s): no peak FLOP/s for %s", exc, name)
            spec = None
        else:
            if spec is None or not spec.bf16_dense_flops:
                log.warning(
                    "unknown GPU %r: it is not in the GPU spec table, so MFU against its own peak "
                    "is not computed",
                    name,
                )
        peaks[name] = float(spec.bf16_dense_flops) if spec is not None and spec.bf16_dense_flops else None
    return peaks
