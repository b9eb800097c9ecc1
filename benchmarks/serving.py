"""The performance benchmark's running processes: ``training-exporter serve`` (no GPU, or 8 fake
GPUs behind a stand-in ``pynvml``) and mtail serving the same log; their memory after a backfill,
their /metrics latency over HTTP, and their CPU while a live log grows."""

from __future__ import annotations

import http.client
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from exporter.log.watch import POLL_INTERVAL_SECONDS
from exporter_process import ExporterProcess, free_port
from logs import LiveLog, count_lines, write_log
from measure import interleaved, process_cpu_seconds, rss_megabytes, table

FAKE_PYNVML = """import sys
sys.path.insert(0, {tests!r})
from fake_nvml import GIB, FakeNvml, fake_gpus
_gpus = fake_gpus(8)
for _pid, _gpu in enumerate(_gpus, start=1000):
    _gpu.processes = [(_pid, 10 * GIB)]
sys.modules[__name__] = FakeNvml(_gpus)
"""
LIVE_RATE = 20.0  # progress lines per second of the live log
SCRAPE_INTERVAL = 5.0  # seconds between scrapes while following it
MTAIL_NAME = "mtail"


class Endpoint:
    """A process serving /metrics on ``port``."""

    def __init__(self, name: str, pid: int, port: int) -> None:
        self.name, self.pid, self.port = name, pid, port

    def get(self) -> bytes:
        """One GET /metrics on a fresh connection (as Prometheus without keep-alive)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            connection.request("GET", "/metrics")
            return connection.getresponse().read()
        finally:
            connection.close()

    def latencies_ms(self, count: int) -> list[float]:
        timings = []
        for _ in range(count):
            started = time.perf_counter()
            self.get()
            timings.append((time.perf_counter() - started) * 1000)
        return sorted(timings)

    def wait_for(self, text: bytes, timeout: float = 300.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if text in self.get():
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{self.name}: {text!r} not in /metrics after {timeout} s")


@contextmanager
def exporter(name: str, log: Path, *flags: str, gpus_shim: Path | None = None) -> Iterator[Endpoint]:
    # the default poll interval, not the tests' 0.1 s
    with ExporterProcess("--log", str(log), "--run", "bench", "--poll-interval-seconds", str(POLL_INTERVAL_SECONDS), *flags,
                         import_first=gpus_shim) as process:
        yield Endpoint(name, process.process.pid, process.port)


@contextmanager
def mtail(log: Path, mtail_binary: str, programs: Path) -> Iterator[Endpoint]:
    port = free_port()
    process = subprocess.Popen([mtail_binary, "-progs", str(programs), "-logs", str(log), "-port", str(port),
                                "-address", "127.0.0.1", "-logtostderr"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield Endpoint(MTAIL_NAME, process.pid, port)
    finally:
        process.terminate()
        process.wait(timeout=10)


def _fake_gpus(work: Path) -> Path:
    shim = work / "fake-nvml"
    shim.mkdir(exist_ok=True)
    (shim / "pynvml.py").write_text(FAKE_PYNVML.format(tests=str(Path(__file__).resolve().parent.parent / "tests")))
    return shim


def scrapes(work: Path, log: Path, repeats: int, count: int, mtail_binary: str | None, programs: Path) -> None:
    """RSS after a backfill of ``log``, then /metrics latency: the exporter with no GPU (on ``log``)
    and with 8 fake GPUs (on a short log), and mtail (which reads only what is appended to a log
    after it starts) with the short log appended."""
    short, appended = work / "short.log", work / "mtail.log"
    write_log(short, 10_000)
    appended.write_text("")
    with ExitStack() as stack:
        endpoints = [stack.enter_context(exporter("exporter, no GPU", log)),
                     stack.enter_context(exporter("exporter, 8 fake GPUs", short, "--gpu-sample-interval-seconds", "1",
                                                  gpus_shim=_fake_gpus(work)))]
        if mtail_binary:
            endpoints.append(stack.enter_context(mtail(appended, mtail_binary, programs)))
            endpoints[-1].wait_for(b"training_log_lines_total", timeout=30)
            appended.write_bytes(short.read_bytes())
            endpoints[-1].wait_for(f'training_log_lines_total{{prog="nanogpt.mtail"}} {count_lines(short)}\n'.encode())
        endpoints[0].wait_for(f'training_iteration{{run="bench"}} {_last_iteration(log)}.0\n'.encode())
        table(f"RSS after the backfill of {log.name}", {endpoints[0].name: [rss_megabytes(endpoints[0].pid)]}, "MB",
              references=(), higher_is_better=False)
        sizes = ", ".join(f"{endpoint.name} {len(endpoint.get()) / 1000:.1f} kB" for endpoint in endpoints)
        rounds = interleaved({endpoint.name: (lambda e=endpoint: e.latencies_ms(count)) for endpoint in endpoints}, repeats)
        for label, share in (("p50", 0.5), ("p99", 0.99)):
            figures = {name: [timings[min(len(timings) - 1, int(len(timings) * share))] for timings in runs]
                       for name, runs in rounds.items()}
            table(f"/metrics over HTTP, {label} of {count} scrapes per round ({sizes})", figures, "ms",
                  references=(MTAIL_NAME,), higher_is_better=False)


def _last_iteration(log: Path) -> str:
    with log.open("rb") as f:
        f.seek(max(0, log.stat().st_size - 400))
        return f.read().decode().rsplit("iter ", 1)[1].split(":")[0]


def follow(work: Path, seconds: float, windows: int, mtail_binary: str | None, programs: Path) -> None:
    """CPU of the exporter (no GPU) and of mtail while both follow a log growing by 20 progress
    lines a second, each scraped every 5 s, in ``windows`` windows of ``seconds``."""
    log = work / "live.log"
    live, stop = LiveLog(log, LIVE_RATE), threading.Event()
    with ExitStack() as stack:
        endpoints = [stack.enter_context(exporter("exporter, no GPU", log))]
        if mtail_binary:
            endpoints.append(stack.enter_context(mtail(log, mtail_binary, programs)))
        writer = threading.Thread(target=live.write_until, args=(stop,), daemon=True)
        writer.start()
        try:
            endpoints[0].wait_for(b'training_iteration{run="bench"} ')
            figures = interleaved({"all": lambda: _cpu_window(endpoints, seconds)}, windows)["all"]
        finally:
            stop.set()
            writer.join()
        cpu = {endpoint.name: [window[endpoint.name] for window in figures] for endpoint in endpoints}
        table(f"Following a log at {LIVE_RATE:g} lines/s, scraped every {SCRAPE_INTERVAL:g} s, "
              f"{windows} windows of {seconds:g} s", cpu, "% of one core", references=(MTAIL_NAME,),
              higher_is_better=False)
        memory = {endpoint.name: [rss_megabytes(endpoint.pid)] for endpoint in endpoints}
        table("RSS while following", memory, "MB", references=(MTAIL_NAME,), higher_is_better=False)


def _cpu_window(endpoints: list[Endpoint], seconds: float) -> dict[str, float]:
    """Each process's CPU over one window, in % of one core, scraping each every 5 s meanwhile."""
    before = {endpoint.name: process_cpu_seconds(endpoint.pid) for endpoint in endpoints}
    started = time.monotonic()
    while (left := started + seconds - time.monotonic()) > 0:
        for endpoint in endpoints:
            endpoint.get()
        time.sleep(min(SCRAPE_INTERVAL, left))
    elapsed = time.monotonic() - started
    return {endpoint.name: (process_cpu_seconds(endpoint.pid) - before[endpoint.name]) / elapsed * 100
            for endpoint in endpoints}
