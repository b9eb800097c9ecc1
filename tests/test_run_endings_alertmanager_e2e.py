"""Every way a run ends, through the shipped Prometheus and Alertmanager at their shipped timings.

Seven trainers run at once, each under its own ``training-exporter run`` (default grace period),
scraped by one real Prometheus (the project's rules, 15 s scrapes and evaluations, ``for:`` as
shipped) sending to one real Alertmanager (the project's routes and group waits) that posts to a
Slack sink: a finish between two log lines, SIGKILL, a CUDA OOM, a nan loss to the end, Ctrl-C, a
SIGINT it ignores followed by SIGKILL, and a SIGSTOP hang that pages as a stall and then resumes
and finishes. The exporters go away after their grace periods, and Prometheus goes on trying to
scrape them. After the last end the stack is watched 10 more minutes, so that:

- each ending gets exactly its messages: one page for SIGKILL, OOM, nan and the ignored SIGINT
  then SIGKILL (no "resolved" after it); TrainingFinished once for a finish; nothing after Ctrl-C;
- TrainingExporterDown is not even pending within 10 minutes of any end.

The scenario (tests/endings_scenario.py, about 12 minutes, nearly all of it waiting) starts with
the session and plays while the other modules run; this module is sorted last and reads its
outcome. What promtool proves on top (the alerts' end 10 minutes after the exporter has gone, an
exporter that goes away mid-run) is in prometheus/tests/run-end.test.yml."""

from __future__ import annotations

import pytest

from endings_scenario import Outcome, endings

@pytest.fixture(scope="module", autouse=True)
def _binaries_installed(local_stack):
    missing = local_stack.missing_binaries()
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)} (Debian: apt-get install prometheus prometheus-alertmanager)")


@pytest.fixture(scope="module")
def outcome(endings_scenario) -> Outcome:
    return endings_scenario.outcome()


def _messages(outcome: Outcome, run: str) -> list[dict]:
    return [body["attachments"][0] for body in outcome.sink.accepted()
            if body["attachments"][0]["title"].endswith(f" · run {run}")]


@pytest.mark.parametrize("name", [ending.name for ending in endings()])
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
