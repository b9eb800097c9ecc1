"""Writes the live page's pictures into docs/: one per state a run can be in (running, stalled,
crashed, finished, waiting, and a sweep of three runs one of which crashed) as a 1920×1080 wall
screen shows it (scaled to 1440×810), and the crashed run on a 390×844 phone. The states are the
browser tests' (tests/page_states.py), drawn by headless Chromium.

    python3 scripts/page_screenshot.py [FOLDER]
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "tests"), str(REPO)]

from headless_chromium import CHROMIUM, Browser  # noqa: E402 (after the path)
import page_states  # noqa: E402

SHOTS = [(state, 1920, 1080, 0.75) for state in (*page_states.STATES, "sweep")] + [("crashed", 390, 844, 1.0)]


def main(argv: list[str]) -> int:
    if CHROMIUM is None:
        print("chromium is not installed (Debian package chromium)", file=sys.stderr)
        return 1
    folder = Path(argv[0]) if argv else REPO / "docs"
    with Browser() as browser:
        for state, width, height, scale in SHOTS:
            output = folder / (f"page-{state}.png" if width > 900 else f"page-{state}-phone.png")
            with page_states.serve(page_states.pages(state, health=state == "running")) as url:
                browser.open(url, width, height, mobile=width < 900)
                browser.wait_for("document.getElementById('updated').textContent.startsWith('updated')")
                browser.wait_for(f"document.getElementById('state').textContent === {page_states.shown_state(state)!r}")
                browser.screenshot(output, scale=scale)
            print(f"wrote {output} ({output.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
