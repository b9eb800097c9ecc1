"""The live page (exporter/web/page.html) in headless Chromium against a real exporter following
a fixture run: it loads with no console error and no request beyond the exporter, shows the run's
state, ETA and cost, follows new log lines, fits a 1920×1080 wall screen without scrolling and a
390×844 phone without sideways scrolling. Screenshots go to each test's tmp_path."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from headless_chromium import CHROMIUM, Browser, png_size
from nanogpt_fixture import progress_lines
from page_fixture import LiveRun

PAGE = Path(__file__).resolve().parent.parent / "exporter" / "web" / "page.html"
TEXT = "document.getElementById({!r}).textContent"


def text(browser: Browser, element_id: str) -> str:
    return browser.evaluate(TEXT.format(element_id))


def test_the_page_is_one_small_file_that_names_nothing_elsewhere():
    html = PAGE.read_text(encoding="utf-8")
    assert len(html.encode()) < 32 * 1024
    assert not re.search(r"(https?:)?//[a-z0-9]", html, re.IGNORECASE)  # no absolute or protocol-relative URL
    assert not re.search(r"@import|url\(|<link rel=\"stylesheet|<script src|<img", html)
    assert re.findall(r'(?:href|src)="([^"]*)"', html) == ["data:,", "/metrics"]


needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (Debian package chromium; "
                                                               ".ci/run installs it)")


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with LiveRun(tmp_path_factory.mktemp("page-run")) as run:
        yield run


@pytest.fixture
def browser():
    with Browser() as browser:
        yield browser


def only_the_exporter_was_asked(browser: Browser, url: str) -> None:
    assert browser.requests and all(request.startswith(url) for request in browser.requests), browser.requests
    assert browser.console_errors == []


@needs_chromium
def test_wall_screen_shows_state_eta_and_cost_and_follows_new_lines(live, browser, tmp_path):
    browser.open(live.url, 1920, 1080)
    browser.wait_for(f"{TEXT.format('state')} === 'running' && {TEXT.format('progress-text')}.startsWith('300 /')")
    assert text(browser, "run") == "gpt-40m-shakespeare"
    assert text(browser, "progress-text") == "300 / 20,000 iterations · 1.5 %"
    assert re.fullmatch(r"\d+ min|\d+ h \d\d min", text(browser, "eta")), text(browser, "eta")
    assert re.fullmatch(r"(\d+ (min|h \d\d min)) – (\d+ (min|h \d\d min))", text(browser, "eta-range"))
    assert text(browser, "eta-end").startswith("ends about ")
    assert text(browser, "cost") == "3.75 EUR"  # the 12.5 kWh of the state file and a few seconds more
    assert re.fullmatch(r"at the finish about \d+\.\d\d EUR \(\d+\.\d\d kWh\)", text(browser, "projected"))
    assert browser.evaluate("document.querySelectorAll('#gpus .gpu').length") == 2
    assert "thermal (SW)" in text(browser, "gpus") and "89 / 92 °C" in text(browser, "gpus")

    live.advance(300, pause=0.05)
    browser.wait_for(f"{TEXT.format('progress-text')}.startsWith('600 / 20,000')")
    points = browser.evaluate("document.querySelector('#loss-chart polyline.train').getAttribute('points')")
    assert len(points.split()) >= 2
    scroll = browser.evaluate("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
    assert scroll == [1920, 1080]  # all of it on the wall screen, nothing to scroll
    screenshot = tmp_path / "page-1920x1080.png"
    assert png_size(browser.screenshot(screenshot)) == (1920, 1080)
    only_the_exporter_was_asked(browser, live.url)


@needs_chromium
def test_phone_layout_holds_at_390_by_844(live, browser, tmp_path):
    browser.open(live.url, 390, 844, mobile=True)
    browser.wait_for(f"{TEXT.format('state')} === 'running' && {TEXT.format('cost')}.endsWith('EUR')")
    assert browser.evaluate("document.documentElement.scrollWidth") <= 390
    outside = browser.evaluate("""[...document.querySelectorAll('main *')].filter((e) => {
        const r = e.getBoundingClientRect(); return r.width && (r.left < 0 || r.right > 390.5); })
        .map((e) => e.id || e.className || e.tagName)""")
    assert outside == []
    for section in ("eta-box", "cost-box", "alerts-box", "loss-box", "gpus-box"):  # one column, in this order
        assert browser.evaluate(f"document.getElementById({section!r}).getBoundingClientRect().width") > 350
    tops = browser.evaluate("['eta-box', 'alerts-box', 'cost-box', 'loss-box', 'iter-box', 'gpus-box']"
                            ".map((id) => document.getElementById(id).getBoundingClientRect().top)")
    assert tops == sorted(tops)
    assert png_size(browser.screenshot(tmp_path / "page-390x844.png")) == (390, 844)
    only_the_exporter_was_asked(browser, live.url)


@needs_chromium
def test_alerts_a_lost_gpu_and_a_hostile_run_name_are_shown_as_text(browser):
    from prometheus_client import CollectorRegistry

    from exporter import web
    from exporter.gpu import GpuReading
    from exporter.server.http_server import MetricsServer
    from exporter.run import RunSnapshot

    hostile = '<img src="http://192.0.2.1/x.png" onerror="console.error(1)">'
    crashed = RunSnapshot(run=hostile, format="nanogpt", log_path="train.log", state="crashed", iteration=5_000,
                          max_iterations=20_000, progress_ratio=0.25, eta_seconds=3_000.0)
    alerts = [{"name": "TrainingCrashed", "severity": "critical", "summary": "CUDA out of memory <b>x</b>",
               "since": 1.0}]
    lost = GpuReading(index=0, uuid="GPU-1", name="NVIDIA A100-SXM4-80GB", up=False)  # every reading unknown
    entry = SimpleNamespace(name=hostile, snapshot=lambda: crashed, energy=None)
    pages = web.RunPages(lambda: [entry], alerts=lambda run: lambda: alerts, readings=lambda: [lost],
                         clock=lambda: 601.0)
    server = MetricsServer(CollectorRegistry(), "127.0.0.1", 0, routes=web.routes(pages)).start()
    try:
        url = f"http://127.0.0.1:{server.port}/"
        browser.open(url, 1920, 1080)
        browser.wait_for(f"{TEXT.format('state')} === 'crashed'")
        assert text(browser, "run") == hostile
        assert text(browser, "alerts") == "TrainingCrashedCUDA out of memory <b>x</b>critical · for 10 min"
        assert browser.evaluate("document.querySelector('#alerts li').className") == "critical"
        red = browser.evaluate("getComputedStyle(document.getElementById('state')).backgroundColor")
        assert red == "rgb(248, 81, 73)"
        assert text(browser, "gpus").startswith("GPU 0 · NVIDIA A100-SXM4-80GB · LOSTbusy–power– / – W")
        assert text(browser, "eta") == "crashed" and text(browser, "eta-range") == "at its last pace 50 min were left"
        only_the_exporter_was_asked(browser, url)
    finally:
        server.stop()


def test_with_several_runs_the_page_shows_the_newest_and_links_to_the_others(browser):
    from prometheus_client import CollectorRegistry

    from exporter import web
    from exporter.server.http_server import MetricsServer
    from exporter.run import RunSnapshot

    def entry(name, iteration):
        snapshot = RunSnapshot(run=name, format="nanogpt", log_path=f"{name}/train.log", state="running",
                               iteration=iteration, max_iterations=1_000)
        return SimpleNamespace(name=name, snapshot=lambda: snapshot, energy=None)

    pages = web.RunPages(lambda: [entry("sweep-a", 100), entry("sweep-b", 200)])
    server = MetricsServer(CollectorRegistry(), "127.0.0.1", 0, routes=web.routes(pages)).start()
    try:
        url = f"http://127.0.0.1:{server.port}/"
        browser.open(url, 1920, 1080)
        browser.wait_for(f"{TEXT.format('run')} === 'sweep-b'")
        assert text(browser, "runs") == "sweep-asweep-b"
        assert browser.evaluate("document.querySelector('#runs a.shown').textContent") == "sweep-b"
        browser.open(url + "?run=sweep-a", 1920, 1080)
        browser.wait_for(f"{TEXT.format('run')} === 'sweep-a'")
        assert "100 / 1,000" in text(browser, "progress-text")
        only_the_exporter_was_asked(browser, url)
    finally:
        server.stop()


@needs_chromium
def test_a_loss_spike_is_marked_on_the_loss_chart(browser, tmp_path):
    (tmp_path / "spiking").mkdir()
    with LiveRun(tmp_path / "spiking") as run:
        browser.open(run.url, 1920, 1080)
        browser.wait_for(f"{TEXT.format('progress-text')}.startsWith('300 /')")
        assert browser.evaluate("document.querySelectorAll('#loss-spikes line').length") == 0
        with run.log.open("a") as log:  # the loss triples for one logged line, then is back
            log.write("iter 310: loss 25.0000, time 170.00ms, mfu 31.50%\n")
            log.write("\n".join(progress_lines(320, 400, seed=320)) + "\n")
        browser.wait_for("document.querySelectorAll('#loss-spikes line').length === 1")
        title = browser.evaluate("document.querySelector('#loss-spikes line title').textContent")
        assert title == "loss spike at iteration 310"
        assert browser.evaluate("document.querySelector('#loss-spikes line').getAttribute('y2')") == "5.0"
        only_the_exporter_was_asked(browser, run.url)
