"""The ``status`` command: read a log and report progress, ETA and state for a person, once or
(``--watch``) redrawn in place as the log grows."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from typing import TextIO

from exporter import units
from exporter.commands.health_text import learning_lines
from exporter.commands.config import Config
from exporter.energy import RunEnergy
from exporter.errors import UsageError
from exporter.log.follow import LogFollower
from exporter.formats import DETECTABLE
from exporter.run import RunSnapshot
from exporter.commands.serve import energy_settings, open_run
from exporter.units import duration
from exporter.log.watch import LogWatcher
from exporter.web.api import finite

REDRAW = "\x1b[H\x1b[2J"  # cursor home, clear the screen


def energy_line(s: RunSnapshot, energy: RunEnergy) -> str:
    """Energy and cost so far (from the serving exporter's state file) and, at the run's recent
    power, at the finish."""
    figures, currency = energy.figures(s), energy.settings.currency
    joules, projected = figures.joules, figures.projected_joules
    text = f"energy so far {units.kwh(joules):.2f} kWh, {energy.cost(joules):.2f} {currency}"
    if projected is not None and s.state != "finished":
        text += f"; at the finish about {units.kwh(projected):.2f} kWh, {energy.cost(projected):.2f} {currency}"
    return text


def render(s: RunSnapshot, now: float) -> str:
    lines = [f"{s.run} ({s.format} log {s.log_path}): {s.state}"]
    if s.iteration is None:
        lines.append("no progress line yet")
        return "\n".join(lines)
    lines += _progress(s) + _timing(s) + _results(s, now)
    return "\n".join(lines)


def _progress(s: RunSnapshot) -> list[str]:
    if not s.max_iterations:
        return [f"iteration {s.iteration:,} (max iterations unknown: pass --max-iters)"]
    left = max(s.max_iterations - s.iteration, 0)
    lines = [f"{s.iteration:,} / {s.max_iterations:,} iterations ({100 * (s.progress_ratio or 0):.1f}%); {left:,} left"]
    if s.sources.get("max_iterations") == "default":
        lines.append(f"max iterations {s.max_iterations:,} is the {s.format} trainer's default, a guess: the log does "
                     "not say; pass --max-iters N if the run was started with another")
    return lines


def _timing(s: RunSnapshot) -> list[str]:
    timing = []
    if s.iteration_seconds is not None:
        timing.append(f"typical iteration {s.iteration_seconds * 1000:.0f} ms")
    if s.eval_overhead_seconds is not None:
        every = f"every {s.eval_interval:,} iters " if s.eval_interval else ""
        guess = " (provisional: no eval measured yet)" if s.eval_overhead_provisional else ""
        left = f", {s.evals_left:,} evals left" if s.evals_left is not None else ""
        timing.append(f"eval {every}costs +{s.eval_overhead_seconds:.1f} s{guess}{left}")
    elif s.evals_left:
        timing.append(f"{s.evals_left:,} evals left, their cost not in the ETA: it is measured when "
                      "the log is followed live (`serve`)")
    lines = ["; ".join(timing)] if timing else []
    if s.eta_seconds is not None and s.state == "running":
        finish = time.strftime("%Y-%m-%d %H:%M", time.localtime(s.expected_end_timestamp))
        lines.append(
            f"about {duration(s.eta_seconds)} left (range {duration(s.eta_low_seconds)}–"
            f"{duration(s.eta_high_seconds)}); expected to finish at {finish}"
        )
    elif s.eta_seconds is not None and s.state in ("stalled", "crashed"):
        lines.append(f"{s.state}: at its last pace the run had about {duration(s.eta_seconds)} left")
    return lines


def _results(s: RunSnapshot, now: float) -> list[str]:
    lines = []
    losses = [] if s.loss is None else [f"loss {s.loss:.4f}"]
    if not s.loss_finite:
        losses = ["loss nan/inf" + ("" if s.loss is None else f" (last finite {s.loss:.4f})")]
    losses += [f"{split} loss {value:.4f}" for split, value in sorted(s.eval_losses.items())]
    if s.best_val_loss is not None:
        losses.append(f"best val {s.best_val_loss:.4f}")
    if losses:
        lines.append(", ".join(losses))
    lines += learning_lines(s.learning)
    if s.tokens_processed is not None:
        planned = f" of {s.tokens_planned:,.0f}" if s.tokens_planned else ""
        rate = f" at {s.tokens_per_second:,.0f} tok/s" if s.tokens_per_second else ""
        lines.append(f"{s.tokens_processed:,.0f}{planned} tokens{rate}")
    if s.last_progress_timestamp is not None:
        lines.append(f"last progress {duration(now - s.last_progress_timestamp)} ago")
    problems = [f"{count} {kind}" for kind, count in sorted(s.errors.items()) if count]
    if s.nonfinite_losses:
        problems.append(f"{s.nonfinite_losses} non-finite losses")
    if s.restarts:
        lines.append(f"restarts: {s.restarts}")
    if problems:
        lines.append("problems: " + ", ".join(problems))
    return lines


def run(config: Config, as_json: bool, watch_seconds: float | None = None) -> int:
    """One report, or with ``watch_seconds`` one redrawn in place at that interval until Ctrl-C."""
    log_path = config.single_log
    if config.logs and not log_path:
        raise UsageError("status reads one log: pass its path, not a glob")
    if not log_path or not os.path.isfile(log_path):
        raise UsageError(f"no log file at {log_path!r}; pass the path of the trainer's log")
    if as_json and watch_seconds is not None:
        raise UsageError("--watch redraws the text report: leave out --json (or --watch)")
    watcher = LogWatcher(open_run(config), LogFollower(log_path))
    watcher.poll()
    snapshot = watcher.snapshot()
    if snapshot.log_problem is not None:
        raise UsageError(snapshot.log_problem)
    if not snapshot.log_recognised and snapshot.lines_read:
        raise UsageError(f"none of the {snapshot.lines_read:,} lines of {log_path} was recognised as a training "
                         f"log (formats tried: {', '.join(DETECTABLE)}); if it is one, name its format with "
                         "--format (or describe it with --format custom --custom-format-file FILE)")
    if watch_seconds is not None:
        return watch(watcher, config, watch_seconds)
    if as_json:
        print(json.dumps(finite(_json_report(snapshot, config)), indent=2, sort_keys=True))
    else:
        print(_text_report(snapshot, config))
    return 0


def _json_report(snapshot: RunSnapshot, config: Config) -> dict:
    report = dataclasses.asdict(snapshot)
    energy = RunEnergy.saved(energy_settings(config), snapshot)
    if energy is not None:
        joules = energy.figures(snapshot).joules
        report["energy_joules"] = joules
        report["electricity_cost"] = energy.cost(joules)
        report["currency"] = energy.settings.currency
    return report


def _text_report(snapshot: RunSnapshot, config: Config) -> str:
    """The report, with the energy the serving exporter's state file holds (read again each time)."""
    text = render(snapshot, time.time())
    energy = RunEnergy.saved(energy_settings(config), snapshot)
    return text if energy is None else text + "\n" + energy_line(snapshot, energy)


def watch(watcher: LogWatcher, config: Config, interval: float, out: TextIO | None = None) -> int:
    """Read what is new in the log and redraw the report in place every ``interval`` seconds, like
    ``watch``; Ctrl-C ends it with status 0, the last report left on the screen."""
    out = out or sys.stdout
    try:
        while True:
            header = f"every {interval:g} s, {time.strftime('%H:%M:%S')}; Ctrl-C quits"
            out.write(f"{REDRAW}{header}\n\n{_text_report(watcher.snapshot(), config)}\n")
            out.flush()
            time.sleep(interval)
            watcher.poll()
    except KeyboardInterrupt:
        return 0
