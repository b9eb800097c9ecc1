"""Scrape latency of the GPU collector with 8 fake GPUs while the sampler runs beside it.

Each fake NVML call sleeps ``--nvml-call-ms`` (default 2 ms, so one sampler pass over 8 GPUs takes
about half a second) to show that slow NVML calls stay off the scrape path. Prints p50 / p99 / max
of ``generate_latest`` on a registry holding only the GPU collector.

    python3 benchmarks/gpu_scrape.py [--scrapes 2000] [--gpus 8] [--nvml-call-ms 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fake_nvml import FakeNvml, fake_gpus  # noqa: E402
from prometheus_client import CollectorRegistry, generate_latest  # noqa: E402

from exporter.collectors.base import CollectorStats  # noqa: E402
from exporter.collectors.gpu import GpuCollector  # noqa: E402
from exporter.gpu import GpuSettings, open_telemetry  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scrapes", type=int, default=2000)
    parser.add_argument("--gpus", type=int, default=8)
    parser.add_argument("--nvml-call-ms", type=float, default=2.0)
    parser.add_argument("--sample-interval", type=float, default=0.05, help="sampler interval, seconds")
    args = parser.parse_args()

    gpus = fake_gpus(args.gpus)
    for pid, gpu in enumerate(gpus, start=1000):
        gpu.processes = [(pid, 10 * 2**30)]
    fake = FakeNvml(gpus, call_delay=args.nvml_call_ms / 1000)
    settings = GpuSettings(sample_interval_seconds=args.sample_interval)
    telemetry = open_telemetry(settings, fake, environ={})
    pass_started = time.perf_counter()
    telemetry.sample_once()
    pass_seconds = time.perf_counter() - pass_started

    registry = CollectorRegistry(auto_describe=True)
    registry.register(GpuCollector(telemetry, CollectorStats()))
    telemetry.start()
    try:
        size = len(generate_latest(registry))
        durations = []
        for _ in range(args.scrapes):
            started = time.perf_counter()
            generate_latest(registry)
            durations.append(time.perf_counter() - started)
    finally:
        telemetry.stop()

    durations.sort()
    p50 = statistics.median(durations)
    p99 = durations[min(len(durations) - 1, int(len(durations) * 0.99))]
    print(f"{args.gpus} fake GPUs, {args.scrapes} scrapes, exposition {size} bytes")
    print(f"one sampler pass (NVML calls at {args.nvml_call_ms:g} ms each): {pass_seconds * 1000:.0f} ms")
    print(f"scrape p50 {p50 * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms, max {durations[-1] * 1000:.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
