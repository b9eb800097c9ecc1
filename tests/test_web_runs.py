"""/api/run with several runs: ``?run=NAME`` picks one, else the most recently active;
each run has its own chart history, and the answer names every run for the page's links."""

import json
from types import SimpleNamespace

import pytest

from exporter.run import RunSnapshot
from exporter.server.handler import NotFound
from exporter.web import RunPages, routes


def entry(name, iteration, last_progress=None):
    snapshot = RunSnapshot(run=name, format="nanogpt", log_path=f"{name}/train.log", state="running",
                           iteration=iteration, max_iterations=1000, loss=3.0, last_progress_timestamp=last_progress)
    return SimpleNamespace(name=name, snapshot=lambda: snapshot, energy=None)


def answer(pages, query=""):
    return json.loads(pages.json(query))


def test_the_most_recently_active_run_by_default():
    followed = [entry("alpha", 100, last_progress=50.0), entry("beta", 200, last_progress=40.0), entry("gamma", 0)]
    pages = RunPages(lambda: followed, clock=lambda: 1.0)
    assert answer(pages)["run"]["run"] == "alpha"
    followed[1] = entry("beta", 210, last_progress=60.0)
    assert answer(pages)["run"]["run"] == "beta"


def test_without_progress_the_last_run_to_appear_by_default_and_any_run_by_name():
    followed = [entry("alpha", 100), entry("beta", 200)]
    pages = RunPages(lambda: followed, clock=lambda: 1.0)
    assert answer(pages)["run"]["run"] == "beta"
    assert answer(pages, "run=alpha")["run"]["iteration"] == 100
    assert answer(pages, "run=alpha")["runs"] == ["alpha", "beta"]


def test_an_unknown_run_is_a_404_that_lists_the_runs():
    pages = RunPages(lambda: [entry("alpha", 100), entry("beta", 200)], clock=lambda: 1.0)
    with pytest.raises(NotFound) as missing:
        pages.json("run=bogus")
    assert json.loads(missing.value.body) == {"error": "no run named 'bogus' is followed here",
                                              "runs": ["alpha", "beta"]}
    page = routes(pages)["/"]
    with pytest.raises(NotFound):
        page("run=bogus")
    assert page("run=alpha")[0].startswith(b"<!doctype html>")


def test_the_overview_has_every_runs_state_and_other_runs_troubles_are_banners():
    crashed = RunSnapshot(run="beta", format="nanogpt", log_path="beta/train.log", state="crashed",
                          reason="torch.OutOfMemoryError: CUDA out of memory.", iteration=50, max_iterations=1000,
                          progress_ratio=0.05)
    followed = [entry("alpha", 100), SimpleNamespace(name="beta", snapshot=lambda: crashed, energy=None),
                entry("gamma", 300)]
    firing = {"gamma": [{"name": "GpuThrottled", "severity": "warning", "summary": "GPU 0 thermal", "since": 1.0}],
              "beta": [{"name": "TrainingCrashed", "severity": "critical", "summary": "crashed", "since": 1.0}]}
    pages = RunPages(lambda: followed, alerts=lambda run: lambda: firing.get(run, []), clock=lambda: 1.0)
    reply = answer(pages, "run=alpha")
    assert [(r["name"], r["state"], r["progress_ratio"]) for r in reply["overview"]] == [
        ("alpha", "running", None), ("beta", "crashed", 0.05), ("gamma", "running", None)]
    assert [(b["run"], b["name"], b["summary"]) for b in reply["banners"]] == [
        ("beta", "crashed", "torch.OutOfMemoryError: CUDA out of memory."), ("gamma", "GpuThrottled", "GPU 0 thermal")]
    assert [b["run"] for b in answer(pages, "run=beta")["banners"]] == ["gamma"]  # its own crash: the page itself


def test_the_route_passes_its_query_string():
    pages = RunPages(lambda: [entry("alpha", 100), entry("beta", 200)], clock=lambda: 1.0)
    body, content_type = routes(pages)["/api/run"]("run=alpha")
    assert content_type == "application/json" and json.loads(body)["run"]["run"] == "alpha"


def test_each_run_keeps_its_own_history_and_a_dropped_one_loses_it():
    followed = [entry("alpha", 100), entry("beta", 200)]
    pages = RunPages(lambda: followed, clock=lambda: 1.0)
    pages.sample()
    assert [p[1] for p in answer(pages, "run=alpha")["history"]["points"]] == [100]
    assert [p[1] for p in answer(pages, "run=beta")["history"]["points"]] == [200]
    followed[:] = [followed[1]]
    pages.sample()
    followed[:] = [entry("alpha", 150), followed[0]]
    assert answer(pages, "run=alpha")["history"]["points"] == []


def test_before_any_log_matches_the_page_waits():
    reply = answer(RunPages(lambda: [], clock=lambda: 1.0))
    assert reply["run"]["state"] == "waiting" and reply["runs"] == []
