"""The live page (exporter/web/page.html) in headless Chromium against a real exporter following
a fixture run: it loads with no console error and no request beyond the exporter, shows the run's
state, ETA and cost, follows new log lines, shows a crash's reason and another run's crash within
3 s, and draws a restarted exporter's charts from the start of the log. Every state
(tests/page_states.py) fits 1920×1080 and 1280×720 without scrolling and a 390×844 phone without
sideways scrolling. Screenshots go to each test's tmp_path."""

from __future__ import annotations

import re
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

import page_states
from exporter_process import ExporterProcess
from headless_chromium import CHROMIUM, Browser, png_size
from nanogpt_fixture import preamble, progress_lines
from page_fixture import LiveRun

PAGE = Path(__file__).resolve().parent.parent / "exporter" / "web" / "page.html"
TEXT = "document.getElementById({!r}).textContent"


def text(browser: Browser, element_id: str) -> str:
    return browser.evaluate(TEXT.format(element_id))


def test_the_page_is_one_small_file_that_names_nothing_elsewhere():
    html = PAGE.read_text(encoding="utf-8")
    assert len(html.encode()) < 40 * 1024
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
    assert re.fullmatch(r"at the finish about \d+\.\d\d EUR \(\d+\.\d\d\xa0kWh\)", text(browser, "projected"))
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
        assert text(browser, "runs") == "sweep-a · runningsweep-b · running"
        assert browser.evaluate("document.querySelector('#runs a.shown').textContent") == "sweep-b · running"
        browser.open(url + "?run=sweep-a", 1920, 1080)
        browser.wait_for(f"{TEXT.format('run')} === 'sweep-a'")
        assert "100 / 1,000" in text(browser, "progress-text")
        only_the_exporter_was_asked(browser, url)
    finally:
        server.stop()


# ---- every state at wall-screen, laptop and phone sizes (made-up runs: tests/page_states.py) ----------------------

SIZES = [(1920, 1080), (1280, 720), (390, 844)]
TITLES = {
    "running": "37 % · 4 h 12 min left · gpt-40m-shakespeare",
    "stalled": "stalled · 37 % · gpt-40m-shakespeare",
    "crashed": "crashed · 37 % · gpt-40m-shakespeare",
    "finished": "finished · gpt-40m-shakespeare",
    "waiting": "waiting · gpt-40m-shakespeare",
    "sweep": "37 % · 4 h 12 min left · sweep-lr-3e-4",
}
FAVICON_CENTRE = "(() => new Promise((done) => { const img = new Image(); img.onload = () => {" \
    " const c = document.createElement('canvas'); c.width = c.height = 32; const g = c.getContext('2d');" \
    " g.drawImage(img, 0, 0); done([...g.getImageData(16, 16, 1, 1).data].slice(0, 3).join()); };" \
    " img.src = document.querySelector('link[rel=icon]').href; }))()"


@pytest.fixture(scope="module")
def one_browser():
    with Browser() as browser:
        yield browser


def open_state(browser: Browser, url: str, width: int, height: int, state: str) -> None:
    browser.open(url, width, height, mobile=width < 900)
    browser.wait_for(f"{TEXT.format('state')} === {page_states.shown_state(state)!r} && "
                     f"{TEXT.format('updated')}.startsWith('updated')")


def overflow(browser: Browser) -> dict:
    return browser.evaluate("({h: document.documentElement.scrollHeight, w: document.documentElement.scrollWidth,"
                            " ih: innerHeight, iw: innerWidth})")


def visible(browser: Browser, element_id: str) -> bool:
    """Whether the element has text and lies inside the viewport."""
    return browser.evaluate(f"""(() => {{ const e = document.getElementById({element_id!r}), r = e.getBoundingClientRect();
        return e.textContent.length > 0 && r.height > 0 && r.top >= 0 && r.bottom <= innerHeight + 0.5
            && getComputedStyle(e).visibility !== 'hidden'; }})()""")


@needs_chromium
@pytest.mark.parametrize("state", [*page_states.STATES, "sweep"])
@pytest.mark.parametrize(("width", "height"), SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_every_state_fits_the_screen_with_its_reason_title_and_favicon(one_browser, state, width, height, tmp_path):
    with page_states.serve(page_states.pages(state, health=state == "running")) as url:
        open_state(one_browser, url, width, height, state)
        size = overflow(one_browser)
        assert size["w"] <= size["iw"], size
        if width > 900:  # the wall screen and the laptop: all of it at once, nothing to scroll
            assert size["h"] <= size["ih"], size
            for element in ("state", "progress-text", "eta", "cost", "loss-chart", "iter-chart"):
                assert visible(one_browser, element) or element.endswith("chart"), element
        else:
            outside = one_browser.evaluate("""[...document.querySelectorAll('main *')].filter((e) => {
                const r = e.getBoundingClientRect(); return r.width && (r.left < 0 || r.right > innerWidth + 0.5); })
                .map((e) => e.id || e.className || e.tagName)""")
            assert outside == []
        assert one_browser.evaluate("document.title") == TITLES[state]
        colour = page_states.COLOUR[page_states.shown_state(state)]
        assert one_browser.wait_for(f"{FAVICON_CENTRE}.then((c) => c === {colour!r} && c)", timeout=5)
        snapshot = page_states.STATES.get(state)
        if snapshot is not None and snapshot.reason and state != "finished":
            assert visible(one_browser, "reason") and text(one_browser, "reason") == snapshot.reason
        one_browser.screenshot(tmp_path / f"page-{state}-{width}x{height}.png")
        assert one_browser.console_errors == []


@needs_chromium
@pytest.mark.parametrize(("width", "height"), SIZES[:2], ids=[f"{w}x{h}" for w, h in SIZES[:2]])
def test_a_sweep_with_many_crashed_runs_still_fits_the_screen(one_browser, width, height):
    with page_states.serve(page_states.pages("sweep", more_crashed=9)) as url:
        open_state(one_browser, url, width, height, "sweep")
        size = overflow(one_browser)
        assert size["h"] <= size["ih"] and size["w"] <= size["iw"], size
        banners = one_browser.evaluate("[...document.querySelectorAll('#banners div')].map((b) => b.textContent)")
        assert len(banners) == 3 and banners[0].startswith("sweep-lr-6e-4 crashed: torch.OutOfMemoryError")
        assert banners[2].startswith("and 8 more: sweep-extra-1, ")


@needs_chromium
def test_values_no_longer_live_are_marked_and_what_no_longer_applies_is_gone(one_browser):
    for state in ("crashed", "stalled", "finished"):
        with page_states.serve(page_states.pages(state)) as url:
            open_state(one_browser, url, 1920, 1080, state)
            assert text(one_browser, "iter-time") == "last seen 171 ms / iteration"
            assert one_browser.evaluate("document.getElementById('iter-time').classList.contains('stale')")
            assert one_browser.evaluate("document.getElementById('throughput').classList.contains('stale')")
            assert "evals left" not in text(one_browser, "progress-detail")
            assert text(one_browser, "projected") == "" and " W (5-min mean)" not in text(one_browser, "power")
    with page_states.serve(page_states.pages("running")) as url:
        open_state(one_browser, url, 1920, 1080, "running")
        assert text(one_browser, "iter-time") == "171 ms / iteration"
        assert "25 evals left" in text(one_browser, "progress-detail")
        assert text(one_browser, "power").startswith("843 W (5-min mean) · GPUs measured + 80 W rest of machine")


@needs_chromium
def test_energy_not_known_is_said_and_small_figures_keep_their_digits(one_browser):
    with page_states.serve(page_states.pages("finished", energy_known=False, with_gpus=False)) as url:
        open_state(one_browser, url, 1920, 1080, "finished")
        assert text(one_browser, "cost") == "not known"
        assert text(one_browser, "energy").startswith("energy not known")
        assert "0.000" not in text(one_browser, "cost-box")
        assert [one_browser.evaluate(f"kwh({joules})") for joules in (11_160, 144_000, 9e6, 0)] == [
            "0.0031\xa0kWh", "0.040\xa0kWh", "2.50\xa0kWh", "0.00\xa0kWh"]
        assert text(one_browser, "power") == "only the 80 W rest of machine (--other-watts): GPU power not measured"
        gpu_error = text(one_browser, "gpu-error")  # the first line of NVML's error, not all of it
        assert gpu_error == "no GPU readings: NVML Shared Library Not Found: libnvidia-ml.so.1: cannot open shared " \
            "object file"


@needs_chromium
def test_charts_have_ticks_gridlines_values_on_hover_eval_points_and_health_marks(one_browser):
    with page_states.serve(page_states.pages("running", health=True)) as url:
        open_state(one_browser, url, 1920, 1080, "running")
        labels = one_browser.evaluate("[...document.querySelectorAll('#loss-chart text')].map((t) => t.textContent)")
        assert {"4", "6", "8", "10"} <= set(labels) and {"0", "1,000", "7,000"} <= set(labels)
        assert one_browser.evaluate("document.querySelectorAll('#loss-chart line.gridline').length") >= 8
        size = one_browser.evaluate("parseFloat(getComputedStyle(document.querySelector('#loss-chart text')).fontSize)")
        ratio = one_browser.evaluate("(() => { const s = document.getElementById('loss-chart');"
                                     " return s.viewBox.baseVal.width / s.getBoundingClientRect().width; })()")
        assert size >= 18 and ratio == pytest.approx(1, abs=0.01)  # at 1920 px, drawn at its own size, unscaled
        assert one_browser.evaluate("document.querySelectorAll('#loss-chart circle.val').length") == 15  # evals
        assert one_browser.evaluate("document.querySelectorAll('#loss-chart path.spike').length") == 1
        assert "loss spike at iteration 5,200" in one_browser.evaluate(
            "document.querySelector('#loss-chart path.spike title').textContent")
        assert text(one_browser, "slowdown").startswith("Step time +18 % over this run's baseline")
        box = one_browser.evaluate("(() => { const r = document.getElementById('loss-chart').getBoundingClientRect();"
                                   " return [r.left + r.width / 2, r.top + r.height / 2]; })()")
        one_browser.call("Input.dispatchMouseEvent", type="mouseMoved", x=box[0], y=box[1])
        tip = one_browser.wait_for("document.querySelector('#loss-box .tip').style.display === 'block' && "
                                   "document.querySelector('#loss-box .tip').textContent")
        assert re.fullmatch(r"iteration [\d,]+ · loss \d\.\d{3} · val \d\.\d{3}", tip), tip


@needs_chromium
def test_an_unknown_run_is_a_404_page_that_lists_the_runs(one_browser):
    import urllib.error
    import urllib.request

    with page_states.serve(page_states.pages("sweep")) as url:
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(url + "?run=bogus", timeout=10)
        assert missing.value.code == 404
        one_browser.open(url + "?run=bogus", 1280, 720)
        one_browser.wait_for(f"{TEXT.format('state')} === 'not found'")
        assert text(one_browser, "reason") == "no run named 'bogus' is followed here"
        assert text(one_browser, "runs") == "sweep-lr-3e-4sweep-lr-6e-4sweep-lr-1e-3"


@needs_chromium
def test_with_javascript_off_the_page_says_so(one_browser):
    with page_states.serve(page_states.pages("running")) as url:
        one_browser.call("Emulation.setScriptExecutionDisabled", value=True)
        try:
            one_browser.open(url, 1280, 720)
            shown = one_browser.evaluate("[document.body.innerText.trim(), document.querySelector('main').offsetHeight,"
                                         " document.querySelector('noscript').getBoundingClientRect().top]")
        finally:
            one_browser.call("Emulation.setScriptExecutionDisabled", value=False)
    assert shown[0] == ("This page needs JavaScript to show the run: turn it on, or read the figures at /metrics and "
                        "with training-exporter status LOG.")
    assert shown[1] == 0 and shown[2] < 50  # no empty "connecting…" page: the line alone, at the top


# ---- a real exporter: the crash reason, another run's crash, the history of a restarted exporter ---------------

def append(log: Path, lines: list[str]) -> float:
    with log.open("a") as file:
        file.write("\n".join(lines) + "\n")
    return time.monotonic()


TRACEBACK = ["Traceback (most recent call last):", '  File "train.py", line 311, in <module>',
             "    scaler.scale(loss).backward()", page_states.OOM]


@needs_chromium
def test_a_crash_shows_its_reason_within_3_s_of_the_traceback(tmp_path, browser):
    with LiveRun(tmp_path) as run:
        browser.open(run.url, 1280, 720)
        browser.wait_for(f"{TEXT.format('state')} === 'running'")
        written = append(run.log, TRACEBACK)
        browser.wait_for(f"{TEXT.format('state')} === 'crashed' && {TEXT.format('reason')} === {page_states.OOM!r}",
                         timeout=10)
        elapsed = time.monotonic() - written
        print(f"the crash's reason was on the page {elapsed:.2f} s after the traceback was written")
        assert elapsed <= 3.0
        assert visible(browser, "reason") and browser.evaluate("document.title").startswith("crashed · ")
        size = overflow(browser)
        assert size["h"] <= size["ih"] and size["w"] <= size["iw"]
        assert "evals left" not in text(browser, "progress-detail") and text(browser, "projected") == ""


@needs_chromium
def test_another_runs_crash_is_a_banner_within_3_s(tmp_path, browser):
    logs = []
    for name in ("sweep-a", "sweep-b", "sweep-c"):
        (tmp_path / name).mkdir()
        logs.append(tmp_path / name / "train.log")
        logs[-1].write_text("\n".join(preamble() + progress_lines(0, 300)) + "\n")
    with ExporterProcess("--log", str(tmp_path / "*" / "train.log")) as exporter:
        exporter.wait_for('training_iteration{run="sweep-c"} 300.0')
        url = f"http://127.0.0.1:{exporter.port}/?run=sweep-a"
        browser.open(url, 1920, 1080)
        browser.wait_for(f"{TEXT.format('run')} === 'sweep-a' && {TEXT.format('runs')}.includes('sweep-c')")
        assert text(browser, "banners") == ""
        written = append(logs[1], TRACEBACK)
        banner = browser.wait_for(f"{TEXT.format('banners')}.includes('CUDA out of memory') && "
                                  f"{TEXT.format('banners')}", timeout=10)
        elapsed = time.monotonic() - written
        print(f"the other run's crash was a banner {elapsed:.2f} s after its traceback was written")
        assert elapsed <= 3.0
        assert banner.startswith("sweep-b crashed: torch.OutOfMemoryError: CUDA out of memory.")
        assert "sweep-b · crashed" in text(browser, "runs") and text(browser, "state") == "running"
        size = overflow(browser)
        assert size["h"] <= size["ih"]


@needs_chromium
def test_a_restarted_exporter_draws_the_run_from_the_start_of_its_log(tmp_path, browser):
    with LiveRun(tmp_path, until=1300) as run:  # an exporter started on a log that holds 1,300 iterations
        browser.open(run.url, 1920, 1080)
        browser.wait_for(f"{TEXT.format('state')} === 'running'")
        points = browser.wait_for("lastData && lastData.history.points.length > 100 && lastData.history.points", timeout=10)
        assert points[0][1] == 0 and points[-1][1] == 1300
        drawn = browser.evaluate("document.querySelector('#loss-chart polyline.train').getAttribute('points')")
        assert len(drawn.split()) > 100
        assert browser.evaluate("document.querySelectorAll('#loss-chart circle.val').length") == 3  # 0, 500, 1000
        assert "0" in browser.evaluate("[...document.querySelectorAll('#loss-chart text')].map((t) => t.textContent)")


@needs_chromium
def test_a_slowdown_shows_under_the_iteration_time_with_its_cause_and_the_checkpoint_disk_below_the_cost(browser, tmp_path):
    from prometheus_client import CollectorRegistry

    from exporter import web
    from exporter.health.slowdown import SlowdownView
    from exporter.health.slowdown_cause import SlowdownEvidence
    from exporter.run import RunSnapshot
    from exporter.run_set.checkpoints import CheckpointProbe
    from exporter.server.http_server import MetricsServer

    (tmp_path / "ckpt.pt").write_bytes(b"\0" * 2**20)
    slow = RunSnapshot(run="gpt2", format="nanogpt", log_path="train.log", state="running", iteration=2000,
                       max_iterations=5000, iteration_seconds=0.56, evals_left=6, checkpoints=4,
                       slowdown=SlowdownView(0.4, 0.56, 360.0, 1030))
    evidence = SlowdownEvidence()
    evidence.cause = "other_process"
    entry = SimpleNamespace(name="gpt2", snapshot=lambda: slow, energy=None, slowdown=evidence,
                            checkpoints=CheckpointProbe(str(tmp_path)))
    server = MetricsServer(CollectorRegistry(), "127.0.0.1", 0, routes=web.routes(web.RunPages(lambda: [entry]))).start()
    try:
        browser.open(f"http://127.0.0.1:{server.port}/", 1920, 1080)
        browser.wait_for(f"{TEXT.format('slowdown')} !== ''")
        assert text(browser, "slowdown") == ("Step time +40 % over this run's baseline (400 ms → 560 ms) for 6 min since "
                                             "iteration 1030: another process is using the trainer's GPU; +8 min to "
                                             "the finish.")
        assert text(browser, "checkpoint-disk").startswith("checkpoints: ")
        assert "0.0 GiB each" in text(browser, "checkpoint-disk")
    finally:
        server.stop()


@needs_chromium
def test_a_loss_spike_is_marked_on_the_loss_chart(browser, tmp_path):
    (tmp_path / "spiking").mkdir()
    with LiveRun(tmp_path / "spiking") as run:
        browser.open(run.url, 1920, 1080)
        browser.wait_for(f"{TEXT.format('progress-text')}.startsWith('300 /')")
        assert browser.evaluate("document.querySelectorAll('#loss-chart path.spike').length") == 0
        with run.log.open("a") as log:  # the loss triples for one logged line, then is back
            log.write("iter 310: loss 25.0000, time 170.00ms, mfu 31.50%\n")
            log.write("\n".join(progress_lines(320, 400, seed=320)) + "\n")
        browser.wait_for("document.querySelectorAll('#loss-chart path.spike').length === 1")
        title = browser.evaluate("document.querySelector('#loss-chart path.spike title').textContent")
        assert title == "loss spike at iteration 310: 25.000"
        only_the_exporter_was_asked(browser, run.url)
