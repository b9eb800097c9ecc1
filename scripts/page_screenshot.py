"""Writes docs/page.png, the live page as a 1920×1080 wall screen shows it (scaled to 1440×810), from the browser tests'
fixture run (a real exporter, a nanoGPT log that grows, two fake GPUs), through headless Chromium.

    python3 scripts/page_screenshot.py [OUTPUT.png] [--phone]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "tests"), str(REPO)]

from headless_chromium import CHROMIUM, Browser  # noqa: E402 (after the path)
from page_fixture import LiveRun  # noqa: E402


def main(argv: list[str]) -> int:
    if CHROMIUM is None:
        print("chromium is not installed (Debian package chromium)", file=sys.stderr)
        return 1
    phone = "--phone" in argv
    paths = [arg for arg in argv if not arg.startswith("--")]
    output = Path(paths[0]) if paths else REPO / "docs" / ("page-phone.png" if phone else "page.png")
    with tempfile.TemporaryDirectory() as folder, LiveRun(Path(folder)) as run, Browser() as browser:
        for _ in range(12):  # a run that goes on while the page watches: the charts fill
            run.advance(150, pause=0.02)
        browser.open(run.url, *((390, 844) if phone else (1920, 1080)), mobile=phone)
        browser.wait_for(f"document.getElementById('progress-text').textContent.startsWith('{run.iteration:,} /')")
        browser.wait_for("document.getElementById('updated').textContent.startsWith('updated')")
        height = browser.evaluate("Math.ceil(document.querySelector('main').getBoundingClientRect().bottom)")
        browser.screenshot(output, scale=1.0 if phone else 0.75)
    print(f"wrote {output} ({output.stat().st_size:,} bytes; the page ends at {height} px)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
