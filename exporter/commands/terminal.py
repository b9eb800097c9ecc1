"""Drawing the ``status`` report in a terminal: lines fitted to its width (wrapped at words, never
mid-word), a tqdm-style progress bar coloured by the run's state, and a screen redrawn in place
(cursor home, each line cleared to its end, the rest cleared below) so that a terminal's scrollback
keeps nothing of the redraws. Where the output is not a terminal, plain text and no escapes."""

from __future__ import annotations

import shutil
import textwrap
from typing import TextIO

COLOURS = {"running": "32", "starting": "34", "waiting": "34", "stalled": "33", "crashed": "31",
           "finished": "35", "interrupted": "90"}  # ANSI foreground: green, blue, yellow, red, magenta, grey
BLOCKS = " ▏▎▍▌▋▊▉█"
MAX_WIDTH = 100  # wider terminals get the report at this width: lines long enough to read


def fit(lines: list[str], width: int) -> list[str]:
    """Each line wrapped to ``width`` at spaces, its continuation indented two spaces."""
    fitted = []
    for line in lines:
        fitted += textwrap.wrap(line, width, subsequent_indent="  ", break_on_hyphens=False) or [""]
    return fitted


def bar(ratio: float, width: int, colour: str | None = None) -> str:
    """``|█████▍    |`` of ``width`` cells inside the bars, eighths of a cell for the edge (tqdm's)."""
    cells = max(width, 1)
    eighths = round(min(max(ratio, 0.0), 1.0) * cells * 8)
    full, part = divmod(eighths, 8)
    body = "█" * full + (BLOCKS[part] if full < cells else "")
    body = body.ljust(cells)
    return f"|\x1b[{colour}m{body}\x1b[0m|" if colour else f"|{body}|"


class Screen:
    """Where the report goes: a terminal (``tty``) redrawn in place, else plain reports one after
    another, a blank line between them."""

    def __init__(self, out: TextIO, tty: bool) -> None:
        self.out = out
        self.tty = tty

    def size(self) -> tuple[int, int]:
        """Columns (at most :data:`MAX_WIDTH`) and rows of the terminal; 80×24 when not one."""
        columns, rows = shutil.get_terminal_size((80, 24)) if self.tty else (80, 24)
        return min(max(columns, 20), MAX_WIDTH), max(rows, 3)

    def open(self) -> None:
        if self.tty:
            self.out.write("\x1b[?25l\x1b[2J")  # hide the cursor; one clear at the start
            self.out.flush()

    def draw(self, lines: list[str]) -> None:
        """One report: on a terminal from its top, each line cleared to its end, cut to the rows
        that fit (a line past the last row would scroll the screen into the scrollback)."""
        if not self.tty:
            self.out.write("\n".join(lines) + "\n\n")
        else:
            rows = self.size()[1]
            shown = lines[:rows - 1]
            self.out.write("\x1b[H" + "".join(f"{line}\x1b[K\n" for line in shown) + "\x1b[J")
        self.out.flush()

    def close(self) -> None:
        if self.tty:
            self.out.write("\x1b[?25h")  # the cursor back, the last report left on the screen
            self.out.flush()
