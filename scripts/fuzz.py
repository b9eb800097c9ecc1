"""Fuzz every log parser for longer than the test suite does: real lines of each format, mutated
(tests/test_fuzz_parsers.py's mutations), and random text, each line through every parser; then
the file cases (scripts/fuzz_files.py): log paths that are not valid UTF-8, energy state files in
random encodings, progress updates ended by ``\r``.

    python3 scripts/fuzz.py [--inputs 1000000] [--file-rounds 300] [--seed 0]

Prints the rate, the slowest line per parser and every exception with the line that raised it,
then each file case's failures; exits 1 if a parser raised or returned something other than an
event or None, or a file case failed.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "scripts")]

from fuzz_files import fuzz_files  # noqa: E402
from test_fuzz_parsers import ALL_SAMPLES, ODD_CHARACTERS, PARSERS, RESULT_TYPES, mutate, timed  # noqa: E402

LOG_CHARACTERS = "0123456789.,:|%/ e-+naiftsmkpolrv[]<>(){}'\"=_\r\x1b" + ODD_CHARACTERS
SHOWN_FAILURES = 20


def random_text(rng: random.Random) -> str:
    """Up to 200 characters, mostly those log lines are made of, some any code point at all."""
    return "".join(rng.choice(LOG_CHARACTERS) if rng.random() < 0.8 else chr(rng.randrange(0x110000))
                   for _ in range(rng.randrange(200)))


def fuzz(inputs: int, seed: int) -> tuple[dict[str, tuple[float, str]], list[str], float]:
    """Each parser's slowest (CPU seconds, line), the failures, and the wall seconds taken."""
    rng = random.Random(seed)
    slowest = {name: (0.0, "") for name in PARSERS}
    failures: list[str] = []
    started = time.perf_counter()
    for _ in range(inputs):
        line = mutate(rng.choice(ALL_SAMPLES), rng) if rng.random() < 0.7 else random_text(rng)
        for name, parse in PARSERS.items():
            try:
                result, seconds = timed(parse, line)
            except Exception as exc:  # noqa: BLE001 - what the fuzzing is looking for
                failures.append(f"{name} raised {type(exc).__name__}: {exc!s:.200} on {line[:200]!r}")
                continue
            if result is not None and not isinstance(result, RESULT_TYPES):
                failures.append(f"{name} returned {type(result).__name__} for {line[:200]!r}")
            if seconds > slowest[name][0]:
                slowest[name] = (seconds, line)
    return slowest, failures, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inputs", type=int, default=1_000_000, help="lines to generate (each goes through every parser)")
    parser.add_argument("--file-rounds", type=int, default=300, help="rounds of the file cases (0: none)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    slowest, failures, wall = fuzz(args.inputs, args.seed)
    print(f"{args.inputs:,} inputs × {len(PARSERS)} parsers in {wall:.0f} s: {args.inputs / wall:,.0f} inputs/s, "
          f"{args.inputs * len(PARSERS) / wall:,.0f} parser calls/s")
    print("slowest input per parser (CPU time):")
    for name, (seconds, line) in slowest.items():
        print(f"  {name:15} {seconds * 1000:7.2f} ms  {len(line):7,} characters  {line[:60]!r}")
    print(f"exceptions or wrong results: {len(failures)}")
    for failure in failures[:SHOWN_FAILURES]:
        print(f"  {failure}")
    started = time.perf_counter()
    file_failures = fuzz_files(args.file_rounds, args.seed)
    print(f"file cases, {args.file_rounds:,} rounds in {time.perf_counter() - started:.0f} s:")
    for case, found in file_failures.items():
        print(f"  {case}: {len(found)} failures")
        for failure in found[:SHOWN_FAILURES]:
            print(f"    {failure}")
    return 1 if failures or any(file_failures.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
