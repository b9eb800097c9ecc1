"""The run endings of tests/test_run_endings_alertmanager_e2e.py, played in the background.

Seven trainers run at once, each under its own ``training-exporter run`` (default grace period),
all scraped by ONE real Prometheus (the project's rules and 15 s scrapes and evaluations, ``for:``
as shipped) sending to ONE real Alertmanager (the project's routes and group waits) that posts to
a Slack sink. Each trainer then ends its own way, and the stack is watched 10 more minutes after
the last end (the one fixed wait: an absence cannot be waited for). Nearly all of that is waiting,
so the scenario starts with the test session (tests/conftest.py) and plays while the other modules
run; the endings module, sorted last, reads its ``Outcome``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import requests

from exporter_process import REPO, free_port
from slack_sink import SlackSink

WATCH_AFTER_LAST_END_SECONDS = 600  # no TrainingExporterDown within 10 minutes of any end
STALL_TIMEOUT_SECONDS = 20  # the hanging run's --min-progress-timeout-seconds

TRAINER = textwrap.dedent("""
    import os, pathlib, sys, time
    here, mode = pathlib.Path(sys.argv[1]), sys.argv[2]
    MAX = 100003
    print("Overriding: eval_interval = 1000000")
    print("Overriding: log_interval = 5")
    print(f"Overriding: max_iters = {MAX}")
    (here / "pid").write_text(str(os.getpid()))
    def line(i, loss):
        print(f"iter {i}: loss {loss}, time 40.00ms, mfu 30.00%")
    i = 0
    while not (here / "end").exists():
        line(i, f"{4.0 - i / 100000:.4f}")
        i += 5
        time.sleep(0.1)
    if mode == "oom":
        print("Traceback (most recent call last):")
        print('  File "train.py", line 300, in <module>')
        print('    raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")')
        print("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB")
        sys.exit(1)
    if mode == "nan":
        for _ in range(30):
            line(i, "nan")
            i += 5
            time.sleep(0.1)
    for j in range(i, MAX - 2, 5):  # on to the last line nanoGPT prints, then exit 0 between two lines
        line(j, "nan" if mode == "nan" else "3.0000")
""")


@dataclass
class Ending:
    name: str
    titles: list[str]  # exactly the Slack titles Alertmanager sends for this run, in order
    status: int  # the wrapper's exit status
    flags: tuple[str, ...] = ()
    ignore_sigint: bool = False  # started as `nohup` or a shell's background job would start it
    port: int = field(default_factory=free_port)
    folder: Path | None = None
    wrapper: subprocess.Popen | None = None
    stderr: object = None  # the wrapper's stderr file
    pid: int = 0
    ended_at: float | None = None  # monotonic, when the trainer's process was gone
    last_iteration: int | None = None
    returncode: int | None = None
    problem: str | None = None


def critical(alert, run):
    return f"CRITICAL: {alert} · run {run}"


def endings() -> list[Ending]:
    """The seven endings, each with a free port of its own."""
    return [
        Ending("finish", ["INFO: TrainingFinished · run finish"], 0),
        Ending("kill", [critical("TrainingCrashed", "kill")], 128 + signal.SIGKILL),
        Ending("oom", [critical("TrainingCrashed", "oom")], 1),
        Ending("nan", [critical("TrainingLossNotFinite", "nan")], 0),
        Ending("ctrlc", [], 128 + signal.SIGINT),
        Ending("ignored", [critical("TrainingCrashed", "ignored")], 128 + signal.SIGKILL, ignore_sigint=True),
        Ending("hang", [critical("TrainingStalled", "hang"), "INFO: TrainingFinished · run hang"], 0,
               flags=("--min-progress-timeout-seconds", str(STALL_TIMEOUT_SECONDS))),
    ]


def _start(ending: Ending, root: Path) -> None:
    ending.folder = root / ending.name
    ending.folder.mkdir()
    command = [sys.executable, "-m", "exporter", "run", "--port", str(ending.port), "--run", ending.name,
               "--log", str(ending.folder / "train.log"), *ending.flags,
               "--", sys.executable, "-c", TRAINER, str(ending.folder), ending.name]
    if ending.ignore_sigint:  # SIG_IGN is inherited through exec, by the wrapper and by its trainer
        command = ["bash", "-c", 'trap "" INT; exec "$@"', "bash", *command]
    ending.stderr = open(ending.folder / "wrapper.err", "w")  # closed when the scenario ends
    ending.wrapper = subprocess.Popen(command, cwd=ending.folder, env={**os.environ, "PYTHONPATH": str(REPO)},
                                      stdout=subprocess.DEVNULL, stderr=ending.stderr)


def _wait(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:g} s")
        time.sleep(0.2)
    return value


def _answers(ending: Ending) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{ending.port}/metrics", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _last_iteration(ending: Ending) -> int | None:
    lines = [line for line in (ending.folder / "train.log").read_text().splitlines() if line.startswith("iter ")]
    return int(lines[-1].split()[1].rstrip(":")) if lines else None


def _gone(pid: int) -> bool:
    """Ended: reaped, or a zombie. Reading the stat of a process that is being reaped fails with
    ESRCH (ProcessLookupError) or ENOENT: gone too."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def _kill(pid: int) -> None:
    """SIGKILL to the trainer; one already gone (reaped between two looks) is left to the wrapper's
    exit status, which the test checks."""
    with suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _act(ending: Ending, sink: SlackSink) -> None:
    """End the trainer its way and note when its process was gone."""
    if ending.name == "kill":
        _kill(ending.pid)
    elif ending.name == "ctrlc":
        ending.wrapper.send_signal(signal.SIGINT)
    elif ending.name == "ignored":
        before = _last_iteration(ending)
        ending.wrapper.send_signal(signal.SIGINT)
        _wait(lambda: (_last_iteration(ending) or 0) >= before + 100, 60, "training goes on after the ignored SIGINT")
        assert not _gone(ending.pid)
        _kill(ending.pid)
    elif ending.name == "hang":
        os.kill(ending.pid, signal.SIGSTOP)
        sink.wait_for(lambda s: critical("TrainingStalled", "hang") in s.titles(), 300, "the stall of the hang")
        (ending.folder / "end").write_text("")
        os.kill(ending.pid, signal.SIGCONT)
    else:  # finish, oom, nan: the trainer ends by itself
        (ending.folder / "end").write_text("")
    _wait(lambda: _gone(ending.pid), 60, f"the trainer of {ending.name} ends")
    ending.ended_at = time.monotonic()
    ending.last_iteration = _last_iteration(ending)


def _act_safely(ending: Ending, sink: SlackSink) -> None:
    try:
        _act(ending, sink)
    except Exception as exc:  # noqa: BLE001 - reported by this ending's test
        ending.problem = f"{type(exc).__name__}: {exc}"


@dataclass
class Outcome:
    endings: dict[str, Ending]
    sink: SlackSink
    exporter_down: list  # ALERTS{alertname="TrainingExporterDown"} samples in the watch, pending included
    oom_errors: float | None
    ctrlc_crashed: float | None
    stack_logs: str


class Scenario:
    """The endings played in a thread of their own: ``start()``, then ``outcome()`` waits for them."""

    def __init__(self, root: Path, local_stack: ModuleType) -> None:
        self.root, self._local_stack = root, local_stack
        self.endings = endings()
        self.sink = SlackSink()
        self._outcome: Outcome | None = None
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._stack = None  # the LocalStack while it runs
        self._thread = threading.Thread(target=self._play_safely, name="endings", daemon=True)

    def start(self) -> Scenario:
        self._thread.start()
        return self

    def outcome(self) -> Outcome:
        self._thread.join()
        if self._error is not None:
            raise RuntimeError(f"the endings scenario failed: {self._error!r}") from self._error
        return self._outcome

    def close(self) -> None:
        """End whatever still runs (a session cut short) and wait for the thread."""
        self._stop.set()
        self._end_processes()
        if self._stack is not None:
            self._stack.stop()
        self._thread.join(timeout=60)
        self.sink.close()

    def _play_safely(self) -> None:
        try:
            self._outcome = self._play()
        except BaseException as exc:  # noqa: BLE001 - raised again by outcome()
            self._error = exc
        finally:
            self._end_processes()

    def _play(self) -> Outcome:
        webhook = Path(self.sink.write_webhook_file(self.root / "slack_webhook_url"))
        workdir = self.root / "stack"
        (workdir / "targets").mkdir(parents=True)
        first, *others = self.endings
        (workdir / "targets" / "endings.json").write_text(json.dumps(
            [{"targets": [f"127.0.0.1:{ending.port}" for ending in others]}]))
        for ending in self.endings:
            _start(ending, self.root)
        for ending in self.endings:
            _wait(lambda: _answers(ending), 60, f"the exporter of {ending.name} answers")
            ending.pid = int(_wait(lambda: (ending.folder / "pid").exists() and (ending.folder / "pid").read_text(),
                                   30, f"the trainer of {ending.name} starts"))
        with self._local_stack.LocalStack(exporter_port=first.port, workdir=workdir, slack_url_file=webhook,
                                          scrape_interval=None) as stack:
            self._stack = stack
            for ending in self.endings:  # every run seen running in Prometheus
                stack.wait_until(lambda: stack.query_value(f'training_state{{run="{ending.name}",state="running"}}') == 1,
                                 timeout=90, what=f"{ending.name} running in Prometheus")
            self._end_each_its_way()
            last_end = max((e.ended_at for e in self.endings if e.ended_at is not None), default=time.monotonic())
            if self._stop.wait(max(0.0, last_end + WATCH_AFTER_LAST_END_SECONDS - time.monotonic())):
                raise RuntimeError("stopped before the watch after the last end was over")
            window = f"{WATCH_AFTER_LAST_END_SECONDS + 300}s"
            return Outcome(
                {ending.name: ending for ending in self.endings}, self.sink,
                stack.query(f'count_over_time(ALERTS{{alertname="TrainingExporterDown"}}[{window}])'),
                stack.query_value(f'max_over_time(training_errors_total{{run="oom",kind="oom"}}[{window}])'),
                stack.query_value(f'max_over_time(training_state{{run="ctrlc",state="crashed"}}[{window}])'),
                stack.logs())

    def _end_each_its_way(self) -> None:
        actors = [threading.Thread(target=_act_safely, args=(ending, self.sink)) for ending in self.endings]
        for actor in actors:
            actor.start()
        for actor in actors:
            actor.join(timeout=600)
        for ending in self.endings:
            try:
                ending.returncode = ending.wrapper.wait(timeout=300)
            except subprocess.TimeoutExpired:
                ending.problem = ending.problem or "the wrapper did not exit after its grace period"

    def _end_processes(self) -> None:
        for ending in self.endings:
            if ending.wrapper is not None and ending.wrapper.poll() is None:
                ending.wrapper.kill()
                ending.wrapper.wait(timeout=10)
            if ending.pid and not _gone(ending.pid):
                _kill(ending.pid)
            if ending.stderr is not None:
                ending.stderr.close()
