"""A fixture run for the live page: a real exporter process following a nanoGPT log that grows,
two fake GPUs (only the NVML library is faked) drawing power, and an energy state file that says
12.5 kWh were spent before this exporter started. Used by the browser tests and
scripts/page_screenshot.py."""

from __future__ import annotations

import json
import time
from pathlib import Path

from exporter_process import REPO, ExporterProcess
from nanogpt_fixture import preamble, progress_lines

RUN = "gpt-40m-shakespeare"
PRICE_PER_KWH = 0.30
SAVED_JOULES = 45e6  # 12.5 kWh: 3.75 EUR at 0.30 EUR/kWh

# Stands in for pynvml in the exporter process: two RTX 4090s holding the trainer's memory, whose
# energy counters advance at their power draw; the second runs hot.
FAKE_PYNVML = """import sys, time
sys.path.insert(0, {tests!r})
from fake_nvml import GIB, FakeNvml, fake_gpus
_gpus = fake_gpus(2)
_gpus[1].temperature, _gpus[1].power_mw, _gpus[1].active_reasons = 89, 441_000, 0x4 | 0x20
for _gpu in _gpus:
    _gpu.processes = [(4242, 17 * GIB)]
_start = time.monotonic()

class _Drawing(FakeNvml):
    def nvmlDeviceGetTotalEnergyConsumption(self, handle):
        return super().nvmlDeviceGetTotalEnergyConsumption(handle) + int(handle.power_mw * (time.monotonic() - _start))

sys.modules[__name__] = _Drawing(_gpus)
"""


class LiveRun:
    """The exporter on a free port (``url``) following ``log`` in ``folder``; :meth:`advance` appends
    progress lines as the trainer would."""

    def __init__(self, folder: Path, until: int = 300) -> None:
        self.log = folder / "train.log"
        self.log.write_text("\n".join(preamble() + progress_lines(0, until)) + "\n")
        self.iteration = until
        state = folder / "energy-state.json"
        state.write_text(json.dumps({"version": 1, "run": RUN, "energy_joules": SAVED_JOULES, "power_watts": 650.0,
                                     "updated_at": time.time(), "price_per_kwh": PRICE_PER_KWH, "currency": "EUR"}))
        shim = folder / "fake-nvml"
        shim.mkdir()
        (shim / "pynvml.py").write_text(FAKE_PYNVML.format(tests=str(REPO / "tests")))
        self.exporter = ExporterProcess(
            "--log", str(self.log), "--run", RUN, "--gpu-sample-interval-seconds", "0.2", "--other-watts", "80",
            "--price-per-kwh", str(PRICE_PER_KWH), "--currency", "EUR", "--state-file", str(state),
            import_first=shim)
        self.url = f"http://127.0.0.1:{self.exporter.port}/"
        self.exporter.wait_for(f'training_iteration{{run="{RUN}"}} {until}.0')

    def advance(self, iterations: int, pause: float = 0.0) -> None:
        """Append the next ``iterations`` iterations' lines, ten at a time with ``pause`` seconds between."""
        last = self.iteration + iterations
        for first in range(self.iteration + 1, last + 1, 10):
            with self.log.open("a") as log:
                log.write("\n".join(progress_lines(first, min(first + 9, last), seed=first)) + "\n")
            time.sleep(pause)
        self.iteration = last

    def __enter__(self) -> LiveRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.exporter.stop()
