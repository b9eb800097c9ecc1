"""How good is the ETA? The exporter's against naive and tqdm-style estimates, on real and generated logs.

    python3 benchmarks/eta_accuracy.py [LOG ...] [--cuts 0.1,0.5,0.9] [--json] [--generated-only]

Each log is cut at 5 %, 10 %, ..., 95 % of its progress lines (19 cuts: with 9, a log's coverage
could only move in steps of 11 %), and at each cut the time left to
its end (its last progress line, or the eval printed after it at the same iteration) is estimated
three ways:
- exporter: the run model's ``eta_seconds`` (range ``eta_low/high_seconds``), fed (a) like
  ``status``, the cut as one backfill, and (b) like ``serve``, the lines replayed poll by poll
  (every 0.5 s) with the poll's time as their arrival time;
- naive: elapsed / iterations done × iterations left, elapsed counted from the first progress line;
- tqdm: tqdm's ``smoothing=0.3``: EMAs of the iterations and of the seconds between progress
  lines, seconds per iteration = their ratio, × iterations left.

What is compared with what: the truth is one clock, read in this order: the Unix-time prefixes of
the lines (``ts '%.s'``: wall time, evals and saves included, what an ETA is for); else the trainer's cumulative clock
(modded-nanogpt ``train_time``: training time only, validation left out); else the sum of
nanoGPT's printed one-iteration times (each standing for the iterations since the line before; the
eval iteration's, which carries the eval and the checkpoint save, counted once). Logs with none of
them are skipped. Naive and tqdm read that same clock, and the ``serve`` replay of a log without
prefixes takes its arrival times from it, so a pause the clock leaves out (modded's validation) is
left out of the truth and of every estimate alike. A log that does not print its length, or
ends before it, is measured to its last progress line, passed to the model as ``max_iters``.

Without LOG arguments the logs in ../shared/real-logs/ are measured when that folder exists;
seven generated logs (benchmarks/eta_logs.py) are always measured.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import eta_logs  # noqa: E402
from exporter.log import stamps  # noqa: E402
from exporter.commands.config import Config  # noqa: E402
from exporter.events import ConfigValue, Eval, Progress  # noqa: E402
from exporter.formats import FormatReader  # noqa: E402
from exporter.run.estimate import percentile  # noqa: E402
from exporter.commands.serve import open_run  # noqa: E402

REAL_LOGS = REPO.parent / "shared" / "real-logs"
CUTS = tuple(round(0.05 * i, 2) for i in range(1, 20))
POLL_SECONDS = Config().poll_interval_seconds
TQDM_SMOOTHING = 0.3
ESTIMATORS = ("exporter/status", "exporter/serve", "naive", "tqdm")


@dataclass(frozen=True)
class Estimate:
    seconds: float  # time left
    low: float | None = None  # the exporter's range
    high: float | None = None


@dataclass(frozen=True)
class Trace:
    """A log ready to measure: its lines as written and without prefixes, each line's arrival
    time, and its progress lines as ``(line index, iteration, truth clock seconds)``."""

    name: str
    path: str
    raw_lines: list[str]
    lines: list[str]
    arrivals: list[float]
    points: list[tuple[int, int, float]]
    max_iters: int | None  # handed to the model; None where the log prints the run's length
    truth: str
    note: str = ""
    end: float | None = None  # the truth clock at the run's end, where it lies after the last progress line


@dataclass(frozen=True)
class Cut:
    fraction: float
    iteration: int
    true_remaining: float
    estimates: dict[str, Estimate | None]


@dataclass(frozen=True)
class Summary:
    cuts: int
    missing: int  # cuts where the estimator gave nothing
    median: float | None  # |error| / true remaining
    p90: float | None
    coverage: float | None  # share of cuts whose truth lay in the exporter's low..high


# ---- reading a log -------------------------------------------------------------------------------

def read_stamped(path: str | Path) -> tuple[list[str], list[str], list[float] | None]:
    """The lines as written, without their Unix-time prefixes, and the prefixes (None unless
    ≥ 99 % of the lines carry one; a line without one takes the time of the line before)."""
    raw = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    split = [stamps.split(line) for line in raw]
    if not raw or sum(stamp is not None for stamp, _ in split) < 0.99 * len(raw):
        return raw, raw, None
    first = next(stamp for stamp, _ in split if stamp is not None)
    times: list[float] = []
    for stamp, _ in split:
        times.append(stamp if stamp is not None else (times[-1] if times else first))
    return raw, [text for _, text in split], times


def line_events(lines: list[str]) -> list:
    """Each line's event, read by the format the exporter detects."""
    reader = FormatReader()
    for line in lines:
        list(reader.feed(line))
        if reader.parse is not None:
            return [reader.parse(line) for line in lines]
    return [None] * len(lines)


def progress_points(events: list) -> tuple[list[int], list[Progress], list[bool]]:
    """The line indices and events of the progress lines whose iteration rises, and whether an eval
    at that very iteration was printed since the progress line before."""
    indices, progress, after_eval = [], [], []
    eval_at = None
    for index, event in enumerate(events):
        if isinstance(event, Eval):
            eval_at = event.iteration
        elif isinstance(event, Progress) and (not progress or event.iteration > progress[-1].iteration):
            indices.append(index)
            progress.append(event)
            after_eval.append(eval_at == event.iteration)
            eval_at = None
    return indices, progress, after_eval


def trainer_clock(progress: list[Progress]) -> list[float] | None:
    """The trainer's cumulative clock, carried on over a reset (a drop) of its timer."""
    if any(p.elapsed_seconds is None for p in progress):
        return None
    clock, offset, previous = [], 0.0, 0.0
    for p in progress:
        if p.elapsed_seconds < previous:
            offset += previous
        previous = p.elapsed_seconds
        clock.append(offset + previous)
    return clock


def printed_clock(progress: list[Progress], after_eval: list[bool]) -> list[float] | None:
    """The sum of printed one-iteration times from the first progress line on: a line's time stands
    for each iteration since the line before, except an eval iteration's, counted once (the
    iterations before it take the last regular time)."""
    if any(p.iteration_seconds is None for p in progress):
        return None
    clock, regular = [0.0], progress[0].iteration_seconds
    for previous, p, evaluated in zip(progress, progress[1:], after_eval[1:]):
        steps = p.iteration - previous.iteration
        if evaluated:
            clock.append(clock[-1] + regular * (steps - 1) + p.iteration_seconds)
        else:
            regular = p.iteration_seconds
            clock.append(clock[-1] + regular * steps)
    return clock


def truth_clock(progress: list[Progress], after_eval: list[bool], indices: list[int],
                stamps: list[float] | None) -> tuple[str, list[float]] | None:
    if stamps is not None:
        return "arrival stamps (wall time)", [stamps[i] for i in indices]
    if (clock := trainer_clock(progress)) is not None:
        return "trainer's clock (training time)", clock
    if (clock := printed_clock(progress, after_eval)) is not None:
        return "sum of printed iteration times", clock
    return None


def final_eval(events: list, last_index: int, stamps: list[float] | None) -> float | None:
    """The wall time at which an eval of the last iteration, printed after the last progress line
    (modded-nanogpt validates after its last step's line), ended: part of the run, and of the time
    an ETA is for; None where there is none, or no wall clock to time it."""
    if stamps is None:
        return None
    last = events[last_index]
    for index in range(last_index + 1, len(events)):
        event = events[index]
        if isinstance(event, Eval) and event.iteration in (None, last.iteration):
            return stamps[index]
    return None


def run_length(events: list, last_iteration: int) -> tuple[int | None, str]:
    """``max_iters`` to hand the model (None where the log prints the run's length and reaches it),
    and a note saying why."""
    printed = None
    for event in events:
        if isinstance(event, Progress) and event.max_iterations is not None:
            printed = event.max_iterations
        elif isinstance(event, ConfigValue) and event.key == "max_iters" and isinstance(event.value, int):
            printed = event.value
    if printed == last_iteration:
        return None, ""
    if printed is None:
        return last_iteration, f"length not printed: measured to its last progress line, iteration {last_iteration}"
    return last_iteration, f"ends at iteration {last_iteration} of {printed}: measured to {last_iteration}"


def synthetic_arrivals(count: int, indices: list[int], clock: list[float]) -> list[float]:
    """Arrival times for a log without prefixes, from its truth clock: a line arrives with the
    progress line before it (lines before the first, with the first)."""
    arrivals, k = [], 0
    for index in range(count):
        while k + 1 < len(indices) and indices[k + 1] <= index:
            k += 1
        arrivals.append(eta_logs.T0 + clock[k] - clock[0])
    return arrivals


def read_trace(path: str | Path, name: str | None = None) -> Trace | str:
    """The log at ``path`` ready to measure, or the reason it cannot be."""
    raw_lines, lines, times_written = read_stamped(path)
    events = line_events(lines)
    indices, progress, after_eval = progress_points(events)
    if len(progress) < 10:
        return f"skipped: {len(progress)} progress lines, fewer than 10"
    clock = truth_clock(progress, after_eval, indices, times_written)
    if clock is None:
        return "skipped: no clock (no Unix-time prefixes, no cumulative or per-iteration time in its lines)"
    truth, times = clock
    max_iters, note = run_length(events, progress[-1].iteration)
    arrivals = times_written or synthetic_arrivals(len(lines), indices, times)
    points = [(i, p.iteration, t) for i, p, t in zip(indices, progress, times)]
    return Trace(name or Path(path).name, str(path), raw_lines, lines, arrivals, points, max_iters, truth, note,
                 final_eval(events, indices[-1], times_written))


# ---- estimating --------------------------------------------------------------------------------

def naive(points: list[tuple[int, int, float]], k: int, left: int) -> Estimate:
    (_, first_iteration, first_time), (_, iteration, time) = points[0], points[k]
    return Estimate((time - first_time) / (iteration - first_iteration) * left)


def tqdm_ema(points: list[tuple[int, int, float]], k: int, left: int) -> Estimate | None:
    """tqdm's smoothed rate: EMAs of the iterations and of the seconds between updates (their bias
    corrections cancel in the ratio); gaps without time or iterations are skipped, as tqdm does."""
    beta = 1 - TQDM_SMOOTHING
    iterations = seconds = 0.0
    for (_, it0, t0), (_, it1, t1) in zip(points[:k], points[1:k + 1]):
        if it1 > it0 and t1 > t0:
            iterations = TQDM_SMOOTHING * (it1 - it0) + beta * iterations
            seconds = TQDM_SMOOTHING * (t1 - t0) + beta * seconds
    if not iterations:
        return None
    return Estimate(left * seconds / iterations)


def new_model(trace: Trace):
    model = open_run(Config(log=trace.path, run="bench", format="auto", max_iters=trace.max_iters))
    model.log_present = True
    return model


def eta_of(snapshot) -> Estimate | None:
    if snapshot.eta_seconds is None:
        return None
    return Estimate(snapshot.eta_seconds, snapshot.eta_low_seconds, snapshot.eta_high_seconds)


def status_like(trace: Trace, index: int) -> Estimate | None:
    """The ETA after reading the log up to line ``index`` as one backfill: no arrival times, but
    the lines' own Unix-time prefixes where they have them."""
    model = new_model(trace)
    stamps.feed(model, trace.raw_lines[:index + 1], None)
    now = trace.arrivals[index]
    model.mark_activity(now)
    return eta_of(model.snapshot(now))


def poll_time(arrival: float) -> float:
    return math.ceil(arrival / POLL_SECONDS) * POLL_SECONDS


def serve_like(trace: Trace, indices: list[int]) -> list[Estimate | None]:
    """The ETA right after each line of ``indices``, replaying the log live: the lines one poll
    reads are fed together, stamped with the poll's time."""
    model = new_model(trace)
    wanted, results, start = set(indices), {}, 0
    for index in range(max(indices) + 1):
        arrived = poll_time(trace.arrivals[index])
        if index in wanted or poll_time(trace.arrivals[index + 1]) != arrived:
            model.feed_lines(trace.lines[start:index + 1], arrived)
            start = index + 1
            if index in wanted:
                results[index] = eta_of(model.snapshot(arrived))
    return [results[index] for index in indices]


def cut_positions(count: int, fractions: tuple[float, ...]) -> list[int]:
    """The progress line (its position among ``count``) at each fraction of them; never the first
    or last, so some iterations are done and some left."""
    return [min(max(round(f * count) - 1, 1), count - 2) for f in fractions]


def measure(trace: Trace, fractions: tuple[float, ...] = CUTS) -> list[Cut]:
    positions = cut_positions(len(trace.points), fractions)
    served = serve_like(trace, [trace.points[k][0] for k in positions])
    _, end_iteration, end_time = trace.points[-1]
    end_time = trace.end if trace.end is not None else end_time
    cuts = []
    for fraction, k, live in zip(fractions, positions, served):
        index, iteration, time = trace.points[k]
        left = end_iteration - iteration
        cuts.append(Cut(fraction, iteration, end_time - time, {
            "exporter/status": status_like(trace, index),
            "exporter/serve": live,
            "naive": naive(trace.points, k, left),
            "tqdm": tqdm_ema(trace.points, k, left),
        }))
    return cuts


def summarize(cuts: list[Cut], estimator: str) -> Summary:
    measured = [(c.estimates[estimator], c.true_remaining) for c in cuts
                if c.estimates[estimator] is not None and c.true_remaining > 0]
    errors = [abs(e.seconds - truth) / truth for e, truth in measured]
    inside = [e.low <= truth <= e.high for e, truth in measured if e.low is not None]
    return Summary(
        cuts=len(cuts),
        missing=len(cuts) - len(measured),
        median=percentile(errors, 0.5) if errors else None,
        p90=percentile(errors, 0.9) if errors else None,
        coverage=sum(inside) / len(inside) if inside else None,
    )


# ---- reporting -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class LogResult:
    name: str
    group: str  # "generated" or "real"
    truth: str
    note: str
    cuts: list[Cut]

    def summaries(self) -> dict[str, Summary]:
        return {estimator: summarize(self.cuts, estimator) for estimator in ESTIMATORS}


def run(paths: list[Path], fractions: tuple[float, ...], generated: bool = True) -> tuple[list[LogResult], list[str]]:
    """Measure the generated logs (in a temporary folder) and those at ``paths``; the second list
    says which logs were skipped and why."""
    results, skipped = [], []
    with tempfile.TemporaryDirectory() as directory:
        logs = [(eta_logs.write_log(s, Path(directory)), f"generated/{s.name}", "generated")
                for s in (eta_logs.scenarios() if generated else [])]
        for path, name, group in logs + [(Path(p), Path(p).name, "real") for p in paths]:
            trace = read_trace(path, name)
            if isinstance(trace, str):
                skipped.append(f"{name}: {trace}")
            else:
                results.append(LogResult(name, group, trace.truth, trace.note, measure(trace, fractions)))
    return results, skipped


def overall(results: list[LogResult]) -> dict[str, dict[str, Summary]]:
    """Summaries of the cuts of all logs pooled, of the generated and of the real ones."""
    groups = {"all logs": results, "generated logs": [r for r in results if r.group == "generated"],
              "real logs": [r for r in results if r.group == "real"]}
    return {name: {e: summarize([c for r in members for c in r.cuts], e) for e in ESTIMATORS}
            for name, members in groups.items() if members}


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def summary_rows(name: str, summaries: dict[str, Summary]) -> list[str]:
    rows = []
    for estimator, s in summaries.items():
        missing = f" ({s.missing} without)" if s.missing else ""
        rows.append(f"{name if not rows else '':<48} {estimator:<16} {s.cuts:>4} {_percent(s.median):>8} "
                    f"{_percent(s.p90):>8} {_percent(s.coverage):>9}{missing}")
    return rows


def slowdown_rows(result: LogResult) -> list[str]:
    """The signed error, (estimate - truth) / truth, at each cut after the slowdown."""
    rows = [f"{result.name}: signed error at each cut after the 2x slowdown "
            f"(at {eta_logs.SLOWDOWN_AT:.0%} of the run)",
            f"{'cut':>5} {'iteration':>9} {'true left':>10} " + " ".join(f"{e:>16}" for e in ESTIMATORS)]
    for c in result.cuts:
        if c.fraction > eta_logs.SLOWDOWN_AT:
            estimates = [c.estimates[e] for e in ESTIMATORS]
            errors = [None if e is None else (e.seconds - c.true_remaining) / c.true_remaining for e in estimates]
            rows.append(f"{c.fraction:>5.0%} {c.iteration:>9} {c.true_remaining:>9.0f}s "
                        + " ".join(f"{'-' if x is None else f'{100 * x:+.1f}%':>16}" for x in errors))
    return rows


def render(results: list[LogResult], skipped: list[str]) -> str:
    header = (f"{'log':<48} {'estimator':<16} {'cuts':>4} {'median':>8} {'p90':>8} {'coverage':>9}\n"
              "(|estimate - truth| / true remaining; coverage: truth within the exporter's low..high)")
    out = [header]
    for r in results:
        out.append("")
        out += summary_rows(r.name, r.summaries())
        out.append(f"{'':<48} truth: {r.truth}" + (f"; {r.note}" if r.note else ""))
    for name, summaries in overall(results).items():
        out += [""] + summary_rows(f"OVERALL ({name})", summaries)
    for r in results:
        if r.name == "generated/slowdown_2x":
            out += [""] + slowdown_rows(r)
    return "\n".join(out + [""] + skipped)


def as_json(results: list[LogResult], skipped: list[str]) -> str:
    document = {
        "logs": [{**dataclasses.asdict(r), "summaries": {e: dataclasses.asdict(s) for e, s in r.summaries().items()}}
                 for r in results],
        "overall": {name: {e: dataclasses.asdict(s) for e, s in summaries.items()}
                    for name, summaries in overall(results).items()},
        "skipped": skipped,
    }
    return json.dumps(document, indent=2)


def parse_cuts(text: str) -> tuple[float, ...]:
    try:
        cuts = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of fractions: {text!r}") from None
    if not cuts or any(not 0 < c < 1 for c in cuts):
        raise argparse.ArgumentTypeError("cuts are fractions between 0 and 1, e.g. 0.1,0.5,0.9")
    return cuts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("logs", nargs="*", metavar="LOG",
                        help="trainer logs to measure (default: ../shared/real-logs/*.log)")
    parser.add_argument("--cuts", type=parse_cuts, default=CUTS, help="fractions of the progress lines to cut at, "
                        "comma-separated (default 0.05,0.1,...,0.95)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--generated-only", action="store_true", help="measure only the generated logs")
    args = parser.parse_args(argv)
    paths = [] if args.generated_only else (args.logs or sorted(REAL_LOGS.glob("*.log")))
    results, skipped = run(paths, args.cuts)
    print(as_json(results, skipped) if args.json else render(results, skipped))
    return 0


if __name__ == "__main__":
    sys.exit(main())
