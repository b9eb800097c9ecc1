"""Every way a run ends, through the shipped Prometheus and Alertmanager at their shipped timings.

Seven trainers run at once, each under its own ``training-exporter run`` (default grace period),
all scraped by ONE real Prometheus (the project's rules and 15 s scrapes and evaluations, ``for:``
as shipped) sending to ONE real Alertmanager (the project's routes and group waits) that posts to
a Slack sink. Each trainer then ends its own way: a finish between two log lines, SIGKILL, a CUDA
OOM, a nan loss to the end, Ctrl-C, a SIGINT it ignores followed by SIGKILL, and a SIGSTOP hang
that pages as a stall and then resumes and finishes. The exporters go away after their grace
periods, and Prometheus goes on trying to scrape them. After the last end the stack is watched 10
more minutes (the one fixed wait: an absence cannot be waited for), so that:

- each ending gets exactly its messages: one page for SIGKILL, OOM, nan and the ignored SIGINT
  then SIGKILL (no "resolved" after it); TrainingFinished once for a finish; nothing after Ctrl-C;
- TrainingExporterDown is not even pending within 10 minutes of any end.

All endings share the stack so that the 10 minutes are paid once (the module takes about 12
minutes). What promtool proves on top (the alerts' end 10 minutes after the exporter has gone,
an exporter that goes away mid-run) is in prometheus/tests/run-end.test.yml."""

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

import pytest
import requests

from exporter_process import REPO, free_port
from slack_sink import SlackSink

WATCH_AFTER_LAST_END_SECONDS = 600  # the "no TrainingExporterDown within 10 minutes of any end"
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


def _crit(alert, run):
    return f"CRITICAL: {alert} · run {run}"


ENDINGS = [
    Ending("finish", ["INFO: TrainingFinished · run finish"], 0),
    Ending("kill", [_crit("TrainingCrashed", "kill")], 128 + signal.SIGKILL),
    Ending("oom", [_crit("TrainingCrashed", "oom")], 1),
    Ending("nan", [_crit("TrainingLossNotFinite", "nan")], 0),
    Ending("ctrlc", [], 128 + signal.SIGINT),
    Ending("ignored", [_crit("TrainingCrashed", "ignored")], 128 + signal.SIGKILL, ignore_sigint=True),
    Ending("hang", [_crit("TrainingStalled", "hang"), "INFO: TrainingFinished · run hang"], 0,
           flags=("--min-progress-timeout-seconds", str(STALL_TIMEOUT_SECONDS))),
]


@pytest.fixture(scope="module", autouse=True)
def _binaries_installed(local_stack):
    missing = local_stack.missing_binaries()
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)} (Debian: apt-get install prometheus prometheus-alertmanager)")


def _start(ending: Ending, root: Path) -> None:
    ending.folder = root / ending.name
    ending.folder.mkdir()
    command = [sys.executable, "-m", "exporter", "run", "--port", str(ending.port), "--run", ending.name,
               "--log", str(ending.folder / "train.log"), *ending.flags,
               "--", sys.executable, "-c", TRAINER, str(ending.folder), ending.name]
    if ending.ignore_sigint:  # SIG_IGN is inherited through exec, by the wrapper and by its trainer
        command = ["bash", "-c", 'trap "" INT; exec "$@"', "bash", *command]
    ending.stderr = open(ending.folder / "wrapper.err", "w")  # closed by the fixture
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
        sink.wait_for(lambda s: _crit("TrainingStalled", "hang") in s.titles(), 300, "the stall of the hang")
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


@pytest.fixture(scope="module")
def outcome(tmp_path_factory, local_stack):
    root = tmp_path_factory.mktemp("endings")
    sink = SlackSink()
    webhook = Path(sink.write_webhook_file(root / "slack_webhook_url"))
    workdir = root / "stack"
    (workdir / "targets").mkdir(parents=True)
    first, *others = ENDINGS
    (workdir / "targets" / "endings.json").write_text(json.dumps(
        [{"targets": [f"127.0.0.1:{ending.port}" for ending in others]}]))
    try:
        for ending in ENDINGS:
            _start(ending, root)
        for ending in ENDINGS:
            _wait(lambda: _answers(ending), 60, f"the exporter of {ending.name} answers")
            ending.pid = int(_wait(lambda: (ending.folder / "pid").exists() and (ending.folder / "pid").read_text(),
                                   30, f"the trainer of {ending.name} starts"))
        with local_stack.LocalStack(exporter_port=first.port, workdir=workdir, slack_url_file=webhook,
                                    scrape_interval=None) as stack:
            for ending in ENDINGS:  # every run seen running in Prometheus
                stack.wait_until(lambda: stack.query_value(f'training_state{{run="{ending.name}",state="running"}}') == 1,
                                 timeout=90, what=f"{ending.name} running in Prometheus")
            actors = [threading.Thread(target=_act_safely, args=(ending, sink)) for ending in ENDINGS]
            for actor in actors:
                actor.start()
            for actor in actors:
                actor.join(timeout=600)
            for ending in ENDINGS:
                try:
                    ending.returncode = ending.wrapper.wait(timeout=300)
                except subprocess.TimeoutExpired:
                    ending.problem = ending.problem or "the wrapper did not exit after its grace period"
            last_end = max((e.ended_at for e in ENDINGS if e.ended_at is not None), default=time.monotonic())
            time.sleep(max(0.0, last_end + WATCH_AFTER_LAST_END_SECONDS - time.monotonic()))
            window = f"{WATCH_AFTER_LAST_END_SECONDS + 300}s"
            yield Outcome(
                {ending.name: ending for ending in ENDINGS}, sink,
                stack.query(f'count_over_time(ALERTS{{alertname="TrainingExporterDown"}}[{window}])'),
                stack.query_value(f'max_over_time(training_errors_total{{run="oom",kind="oom"}}[{window}])'),
                stack.query_value(f'max_over_time(training_state{{run="ctrlc",state="crashed"}}[{window}])'),
                stack.logs())
    finally:
        for ending in ENDINGS:
            if ending.wrapper is not None and ending.wrapper.poll() is None:
                ending.wrapper.kill()
                ending.wrapper.wait(timeout=10)
            if ending.pid and not _gone(ending.pid):
                os.kill(ending.pid, signal.SIGKILL)
            if ending.stderr is not None:
                ending.stderr.close()
        sink.close()


def _messages(outcome: Outcome, run: str) -> list[dict]:
    return [body["attachments"][0] for body in outcome.sink.accepted()
            if body["attachments"][0]["title"].endswith(f" · run {run}")]


@pytest.mark.parametrize("name", [ending.name for ending in ENDINGS])
def test_each_ending_gets_exactly_its_messages_and_exit_status(outcome, name):
    ending = outcome.endings[name]
    assert ending.problem is None, f"{ending.problem}\n{(ending.folder / 'wrapper.err').read_text()[-3000:]}"
    assert [m["title"] for m in _messages(outcome, name)] == ending.titles, outcome.sink.titles()
    assert ending.returncode == ending.status, (ending.folder / "wrapper.err").read_text()[-3000:]


@pytest.mark.parametrize(("name", "how"), [("kill", "the trainer's process ended short of max_iters (killed)"),
                                           ("ignored", "the trainer's process ended short of max_iters (killed)"),
                                           ("oom", "the log ends with a CUDA out-of-memory error")])
def test_a_crash_page_names_the_run_its_last_iteration_and_the_cause(outcome, name, how):
    ending = outcome.endings[name]
    page = _messages(outcome, name)[0]
    summary = f"*Run {name} crashed{' (CUDA out of memory)' if name == 'oom' else ''}*"
    assert page["text"].startswith(f"{summary}\nRun {name} stopped at iteration {ending.last_iteration}: {how}")
    assert f"• Iteration: {ending.last_iteration} / 100003\n" in page["text"]


def test_the_nan_page_and_the_finish_quote_the_run(outcome):
    nan = _messages(outcome, "nan")[0]["text"]
    assert nan.startswith("*Run nan logged a nan/inf loss*\nRun nan has logged ")
    finished = _messages(outcome, "finish")[0]["text"]
    assert finished.startswith("*Run finish finished*\nRun finish reached iteration 100000.")


def test_no_exporter_down_within_10_minutes_of_any_end(outcome):
    assert outcome.exporter_down == [], outcome.stack_logs
    assert not any("TrainingExporterDown" in title for title in outcome.sink.titles())


def test_one_oom_is_counted_once_and_ctrl_c_never_reads_crashed(outcome):
    assert outcome.oom_errors == 1
    assert outcome.ctrlc_crashed == 0
