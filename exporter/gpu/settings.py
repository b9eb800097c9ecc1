"""What the GPU telemetry needs to know from the configuration, and nothing more."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GpuSettings:
    gpus: list[str] | None = None  # indices / UUID prefixes; None: CUDA_VISIBLE_DEVICES, else all
    trainer_pid: int | None = None  # the trainer's process (its children count as the trainer too)
    trainer_cmdline_match: str = "train"  # else: processes whose command line contains this
    sample_interval_seconds: float = 1.0
