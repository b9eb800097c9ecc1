"""The ``status`` command: read a log and report progress, ETA and state for a person, once or
(``--watch``) redrawn in place as the log grows. Its exit status says how the run is:
:data:`EXIT_STATUS` (0 running, starting, finished or interrupted; 2 a usage mistake)."""

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
from exporter.commands.serve import energy_settings, open_run
from exporter.commands.terminal import COLOURS, Screen, bar, fit
from exporter.energy import RunEnergy
from exporter.errors import UsageError
from exporter.formats import DETECTABLE
from exporter.log.follow import HEAD_BYTES, LogFollower
from exporter.log.kinds import not_a_log_file, text_problem
from exporter.log.watch import LogWatcher
from exporter.run import RunSnapshot
from exporter.units import duration
from exporter.web.api import finite

EXIT_STATUS = {"stalled": 3, "crashed": 4, "waiting": 5}  # every other state: 0


def kwh_text(joules: float) -> str:
    """kWh with enough digits that a small figure is not 0.00: ``0.0031 kWh``, ``2.00 kWh``."""
    kwh = units.kwh(joules)
    return f"{kwh:.2f} kWh" if kwh >= 1 or kwh == 0 else f"{kwh:.2g} kWh" if kwh < 0.01 else f"{kwh:.3f} kWh"


def money(amount: float, currency: str) -> str:
    return f"{amount:.3f} {currency}" if amount < 1 else f"{amount:,.2f} {currency}"


def energy_line(s: RunSnapshot, energy: RunEnergy) -> str:
    """Energy and cost so far (from the serving exporter's state file) and, at the run's recent
    power, at the finish."""
    figures, currency = energy.figures(s), energy.settings.currency
    joules, projected = figures.joules, figures.projected_joules
    text = f"energy so far {kwh_text(joules)}, {money(energy.cost(joules), currency)}"
    if s.state == "finished":
        text = f"energy {kwh_text(joules)}, {money(energy.cost(joules), currency)}"
    elif projected is not None and s.state == "running":
        text += f"; at the finish about {kwh_text(projected)}, {money(energy.cost(projected), currency)}"
    return text


def render(s: RunSnapshot, now: float, colour: bool = False, width: int = 80) -> list[str]:
    """The report as lines of at most ``width`` columns; the bar coloured by state with ``colour``."""
    state = f"\x1b[1;{COLOURS.get(s.state, '0')}m{s.state}\x1b[0m" if colour else s.state
    head = [f"{s.run}: {state}" + (f" ({s.format} log)" if s.format != "none" else "")]
    lines = [s.log_path] if s.log_path else []
    if s.reason:
        lines.append(("why: " if s.state != "finished" else "") + s.reason)
    if s.iteration is None:
        lines.append("no progress line yet" if s.state != "waiting" else "it appears here once the trainer writes it")
        return head + fit(lines, width)
    bar_line = [_bar(s, width, COLOURS.get(s.state) if colour else None)] if s.max_iterations else []
    return head + fit(lines + _progress(s), width) + bar_line + fit(_timing(s) + _results(s, now), width)


def _bar(s: RunSnapshot, width: int, colour: str | None) -> str:
    """`` 37% |████▍     | 7,400/20,000`` filling the width."""
    ratio = s.progress_ratio or 0.0
    left, right = f"{100 * ratio:3.0f}% ", f" {s.iteration:,}/{s.max_iterations:,}"
    return left + bar(ratio, width - len(left) - len(right) - 2, colour) + right


def _progress(s: RunSnapshot) -> list[str]:
    if not s.max_iterations:
        return [f"iteration {s.iteration:,} (max iterations unknown: pass --max-iters)"]
    left = max(s.max_iterations - s.iteration, 0)
    to_go = f"; {left:,} left" if left else ""
    lines = [f"{s.iteration:,} / {s.max_iterations:,} iterations ({100 * (s.progress_ratio or 0):.1f}%){to_go}"]
    if s.sources.get("max_iterations") == "default":
        lines.append(f"max iterations {s.max_iterations:,} is the {s.format} trainer's default, a guess: the log does "
                     "not say; pass --max-iters N if the run was started with another")
    return lines


def _timing(s: RunSnapshot) -> list[str]:
    if s.state == "finished":
        return [f"took {duration(s.elapsed_seconds)}"] if s.elapsed_seconds is not None else []
    timing, live = [], s.state == "running"
    if s.iteration_seconds is not None:
        timing.append(f"typical iteration {s.iteration_seconds * 1000:.0f} ms" + ("" if live else " (last seen)"))
    if s.eval_overhead_seconds is not None:
        every = f"every {s.eval_interval:,} iters " if s.eval_interval else ""
        guess = " (provisional: no eval measured yet)" if s.eval_overhead_provisional else ""
        left = f", {s.evals_left:,} evals left" if s.evals_left is not None and live else ""
        timing.append(f"eval {every}costs +{s.eval_overhead_seconds:.1f} s{guess}{left}")
    elif s.evals_left and live:
        timing.append(f"{s.evals_left:,} evals left, their cost not in the ETA: it is measured when "
                      "the log is followed live (`serve`)")
    lines = ["; ".join(timing)] if timing else []
    if s.eta_seconds is not None and live:
        finish = time.strftime("%Y-%m-%d %H:%M", time.localtime(s.expected_end_timestamp))
        lines.append(
            f"about {duration(s.eta_seconds)} left (range {duration(s.eta_low_seconds)} to "
            f"{duration(s.eta_high_seconds)}); expected to finish at {finish}"
        )
    elif s.eta_seconds is not None and s.state in ("stalled", "crashed"):
        lines.append(f"at its last pace the run had about {duration(s.eta_seconds)} left")
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
        rate = f" at {s.tokens_per_second:,.0f} tok/s" if s.tokens_per_second and s.state == "running" else ""
        lines.append(f"{s.tokens_processed:,.0f}{planned} tokens{rate}")
    if s.last_progress_timestamp is not None and s.state != "finished":
        lines.append(f"last progress {duration(now - s.last_progress_timestamp)} ago")
    problems = [f"{count} {kind}" for kind, count in sorted(s.errors.items()) if count]
    if s.nonfinite_losses:
        problems.append(f"{s.nonfinite_losses} non-finite losses")
    if s.restarts:
        lines.append(f"restarts: {s.restarts}")
    if problems:
        lines.append("problems seen: " + ", ".join(problems))
    return lines


def run(config: Config, as_json: bool, watch_seconds: float | None = None) -> int:
    """One report, or with ``watch_seconds`` one redrawn in place at that interval until Ctrl-C.
    Exits with :data:`EXIT_STATUS` of the run's state (a watch ended by Ctrl-C: 0)."""
    log_path = config.single_log
    if config.logs and not log_path:
        raise UsageError("status reads one log: pass its path, not a glob")
    if as_json and watch_seconds is not None:
        raise UsageError("--watch redraws the text report: leave out --json (or --watch)")
    if log_path and (what := not_a_log_file(log_path)):
        raise UsageError(f"{what}; pass the path of the trainer's log file (such as out/train.log)")
    if not log_path or (watch_seconds is None and not os.path.isfile(log_path)):
        raise UsageError(f"no log file at {log_path!r}; pass the path of the trainer's log "
                         "(or --watch to wait for it to appear)")
    _check_text(log_path)
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
        tty = Screen(sys.stdout, sys.stdout.isatty())
        print("\n".join(_text_report(snapshot, config, tty.tty, tty.size()[0])))
    return EXIT_STATUS.get(snapshot.state, 0)


def _check_text(log_path: str) -> None:
    """A UTF-16 or binary file is named as such before it is read as a log."""
    try:
        with open(log_path, "rb") as file:
            head = file.read(HEAD_BYTES)
    except OSError:
        return  # the watcher reports a log it cannot read
    if problem := text_problem(head):
        raise UsageError(f"{log_path}: {problem}")


def _json_report(snapshot: RunSnapshot, config: Config) -> dict:
    report = dataclasses.asdict(snapshot)
    energy = RunEnergy.saved(energy_settings(config), snapshot)
    if energy is not None:
        joules = energy.figures(snapshot).joules
        report["energy_joules"] = joules
        report["electricity_cost"] = energy.cost(joules)
        report["currency"] = energy.settings.currency
    return report


def _text_report(snapshot: RunSnapshot, config: Config, colour: bool = False, width: int = 80) -> list[str]:
    """The report, with the energy the serving exporter's state file holds (read again each time)."""
    lines = render(snapshot, time.time(), colour, width)
    energy = RunEnergy.saved(energy_settings(config), snapshot)
    if energy is not None:
        return lines + fit([energy_line(snapshot, energy)], width)
    if snapshot.state == "finished":
        return lines + fit(["energy not known: no state file of the serving exporter (--state-file)"], width)
    return lines


def watch(watcher: LogWatcher, config: Config, interval: float, out: TextIO | None = None) -> int:
    """Read what is new in the log and redraw the report in place every ``interval`` seconds, like
    ``watch`` (plain reports one after another where the output is not a terminal); Ctrl-C ends it
    with status 0, the last report left on the screen."""
    out = out or sys.stdout
    screen = Screen(out, out.isatty())
    screen.open()
    try:
        while True:
            width = screen.size()[0]
            header = f"every {interval:g} s, {time.strftime('%H:%M:%S')}; Ctrl-C quits"
            screen.draw([header, ""] + _text_report(watcher.snapshot(), config, screen.tty, width))
            time.sleep(interval)
            watcher.poll()
    except KeyboardInterrupt:
        return 0
    finally:
        screen.close()
