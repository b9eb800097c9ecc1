"""The file cases of scripts/fuzz.py: what the exporter meets on disk rather than in a line.

- paths that are not valid UTF-8: folders named with random bytes, matched by a glob, every run's
  metrics in an exposition that Prometheus' parser reads, nothing left out;
- energy state files in random encodings (UTF-8, with a BOM, UTF-16, UTF-32, Latin-1), cut short
  or with a byte flipped: read, or set aside with every byte kept, never lost and never raising;
- progress updates ended by ``\\r`` (``print(..., end="\\r")``), ``\\n``, ``\\r\\n`` or begun by
  ``\\r`` (tqdm), written in random pieces while the log is followed: every update the follower
  passes on is newer than the one before, and the last one is passed on.

Each case returns a list of failures (empty: it held).
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import tempfile
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from exporter.collectors.base import CollectorStats
from exporter.collectors.runs import RunsCollector
from exporter.commands import serve
from exporter.commands.config import Config
from exporter.energy.state_file import load
from exporter.log.follow import LogFollower
from exporter.server.expositions import SharedExpositions
from nanogpt_fixture import preamble, progress_lines

NAME_BYTES = [b"\xff", b"\xfe", b"\xc3", b"\x80", b"\xed\xa0\x80", b"\\", b'"', b"\n", b" ", b"a", b"\xc3\xa9", b"-"]
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-32", "latin-1"]


def undecodable_paths(rng: random.Random, work: Path) -> list[str]:
    """A few folders with random byte names, a log in each, all followed through one glob."""
    names = {b"".join(rng.choice(NAME_BYTES) for _ in range(rng.randrange(1, 8))) for _ in range(rng.randrange(1, 6))}
    names = {name for name in names if name not in (b".", b"..") and b"/" not in name}
    root = work / "paths"
    for name in names:
        folder = root / os.fsdecode(name)
        folder.mkdir(parents=True)
        (folder / "train.log").write_text("\n".join(preamble() + progress_lines(0, 50)) + "\n")
    runs = serve.open_runs(Config(log=str(root / "*" / "train.log")), None)
    failures = []
    try:
        registry, stats = CollectorRegistry(auto_describe=False), CollectorStats()
        registry.register(RunsCollector(runs, stats, "node"))
        text = SharedExpositions(registry, stats.family_skipped).get(generate_latest, "text", False).decode()
        families = {family.name: family for family in text_string_to_metric_families(text)}
        shown = {sample.labels["run"] for sample in families["training_iteration"].samples}
        if len(shown) != len(names) or stats.families_skipped:
            failures.append(f"runs {sorted(names)!r}: {len(shown)} in the exposition, {stats.families_skipped} "
                            "families left out")
    except Exception as exc:  # noqa: BLE001 - what the fuzzing is looking for
        failures.append(f"folders {sorted(names)!r}: {type(exc).__name__}: {exc}")
    finally:
        runs.stop()
        shutil.rmtree(root)
    return failures


def _state_bytes(rng: random.Random) -> bytes:
    run = rng.choice(["r", "é-run", "run ✓", "x" * 40])
    text = f'{{"version": 1, "run": "{run}", "energy_joules": {rng.uniform(0, 1e7):.1f}, "readings": {{}}}}'
    data = text.encode(rng.choice(ENCODINGS), errors="replace")
    if data and rng.random() < 0.3:
        data = data[:rng.randrange(len(data))]
    if data and rng.random() < 0.3:
        at = rng.randrange(len(data))
        data = data[:at] + bytes([rng.randrange(256)]) + data[at + 1:]
    return data


def state_file_encodings(rng: random.Random, work: Path) -> list[str]:
    """A state file in a random encoding: its states read, or the file set aside byte for byte."""
    folder = work / "state"
    folder.mkdir()
    path, data = folder / "state.json", _state_bytes(rng)
    path.write_bytes(data)
    failures = []
    try:
        states = load(path)
        aside = list(folder.glob("state.json.corrupt-*"))
        kept = path.exists() and path.read_bytes() == data
        if states and not kept:
            failures.append(f"{data[:80]!r}: read, but the file changed")
        if not states and not (aside and aside[0].read_bytes() == data):
            failures.append(f"{data[:80]!r}: not read and not set aside")
    except Exception as exc:  # noqa: BLE001
        failures.append(f"{data[:80]!r}: {type(exc).__name__}: {exc}")
    finally:
        shutil.rmtree(folder)
    return failures


def _updates(rng: random.Random) -> bytes:
    ending = rng.choice(["\r", "\n", "\r\n", "tqdm"])
    lines = [f"iter {n}: loss 3.0, time 10.0ms" for n in range(rng.randrange(1, 60))]
    if ending == "tqdm":
        return "".join("\r" + line for line in lines).encode() + b"\n"
    return "".join(line + ending for line in lines).encode()


def _iteration(line: str) -> int:
    """The iteration of the latest update in ``line`` (a whole line keeps the updates before it)."""
    return int(line.replace("\r", "\n").split("\n")[-1].split()[1].rstrip(":"))


def carriage_returns(rng: random.Random, work: Path) -> list[str]:
    """Updates written in random pieces, polled between them: passed on in order, none twice, the last one seen."""
    path, data = work / "bar.log", _updates(rng)
    path.write_bytes(b"")
    follower, seen, at = LogFollower(str(path)), [], 0
    try:
        while at < len(data):
            piece = data[at:at + rng.randrange(1, 200)]
            at += len(piece)
            with path.open("ab") as log:
                log.write(piece)
            seen += [_iteration(line) for batch in follower.poll() for line in batch.lines if line.strip()]
        last = _iteration(data.decode().strip())
        if seen != sorted(set(seen)) or (seen[-1:] != [last]):
            return [f"{data[:80]!r}…: passed on {seen[-8:]} (last written {last})"]
        return []
    except Exception as exc:  # noqa: BLE001
        return [f"{data[:80]!r}: {type(exc).__name__}: {exc}"]
    finally:
        follower.close()
        path.unlink()


CASES = {"undecodable paths": undecodable_paths, "state-file encodings": state_file_encodings,
         "end-of-line \\r": carriage_returns}


def fuzz_files(rounds: int, seed: int) -> dict[str, list[str]]:
    """Each case ``rounds`` times; the failures of each."""
    rng = random.Random(seed)
    failures: dict[str, list[str]] = {name: [] for name in CASES}
    logging.disable(logging.CRITICAL)  # the corrupt files and odd paths are meant: no log lines for them
    try:
        with tempfile.TemporaryDirectory(prefix="fuzz-files-") as tmp:
            for _ in range(rounds):
                for name, case in CASES.items():
                    failures[name] += case(rng, Path(tmp))
    finally:
        logging.disable(logging.NOTSET)
    return failures
