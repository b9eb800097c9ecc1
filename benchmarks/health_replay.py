"""No false alarms on healthy runs: logs replayed live, line by line, through the run model and the
exporter's own alert engine; which alerts each one raised.

    python3 benchmarks/health_replay.py [LOG ...] [--seconds-per-line 1.0]

Without LOG arguments the logs in ../shared/real-logs/ are replayed when that folder exists, and
the repository's own generated fixture logs (tests/fixtures_formats.py: a whole run of every
format; tests/nanogpt_fixture.py) always. A line without its own arrival time arrives
``--seconds-per-line`` after the one before (slow: a rule's ``for:`` filters less); the engine is
ticked after every line. The learning alerts (TrainingLossSpike, TrainingGradNormSpike,
TrainingDiverging, TrainingOverfitting) are the ones a healthy log must not raise; the others are
listed too.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from exporter.alerts.engine import AlertEngine  # noqa: E402
from exporter.commands.config import Config  # noqa: E402
from exporter.commands.serve import open_run  # noqa: E402

# ../shared/real-logs/ beside the project (a work tree one level deeper finds it one level up)
REAL_LOGS = next((p for p in (REPO.parent / "shared" / "real-logs", REPO.parent.parent / "shared" / "real-logs")
                  if p.is_dir()), REPO.parent / "shared" / "real-logs")
LEARNING = ("TrainingLossSpike", "TrainingGradNormSpike", "TrainingDiverging", "TrainingOverfitting")
START = 1_800_000_000.0


@dataclass
class Verdict:
    name: str
    format: str
    lines: int
    spikes: int  # loss spikes counted (information on the page)
    raised: dict[str, int | None]  # alert -> iteration at which it first fired

    @property
    def learning(self) -> list[str]:
        return [name for name in self.raised if name in LEARNING]


def replay(name: str, lines: list[tuple[str, float | None]], config: Config = Config(),
           seconds_per_line: float = 1.0) -> Verdict:
    """Feed ``lines`` (text, arrival time or None) one by one, ticking the engine after each."""
    model = open_run(config, f"{name}.log", "replay")
    model.log_present = True
    engine, raised = AlertEngine(), {}
    now = START
    for text, arrived in lines:
        now = arrived if arrived is not None else now + seconds_per_line
        model.feed_line(text, now)
        snapshot = model.snapshot(now)
        engine.tick(snapshot, (), now)
        for alert in engine.firing():
            raised.setdefault(alert["name"], snapshot.iteration)
    final = model.snapshot(now)
    return Verdict(name, final.format, len(lines), final.learning.loss.spikes, raised)


def real_log(path: Path, seconds_per_line: float) -> Verdict:
    text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return replay(path.name, [(line, None) for line in text], seconds_per_line=seconds_per_line)


def fixture_logs(folder: Path) -> list[Verdict]:
    """The repository's generated logs: a whole run of every format, and nanoGPT's scenario two."""
    from fixtures_formats import CUSTOM_SPEC, GENERATORS, Truth, generate
    from nanogpt_fixture import scenario_two

    spec = folder / "custom-format.yml"
    spec.write_text(CUSTOM_SPEC)
    verdicts = []
    for name in GENERATORS:
        # Lightning's run has whole epochs of eval_interval batches
        run = generate(name, Truth(total_steps=2400, eval_interval=300) if name == "lightning" else Truth())
        settings = dict(run.config)
        if name == "custom":
            settings.update(format="custom", custom_format_file=str(spec))
        verdicts.append(replay(f"fixture {name}", [(line.text, line.arrived) for line in run.lines],
                               Config(**settings)))
    verdicts.append(replay("fixture nanogpt scenario two", [(line, None) for line in scenario_two().splitlines()]))
    return verdicts


def table(verdicts: list[Verdict]) -> str:
    rows = ["| log | format | lines | loss spikes (page only) | learning alerts raised | other alerts raised |",
            "|---|---|---|---|---|---|"]
    for v in verdicts:
        other = [f"`{name}` (iteration {it})" for name, it in v.raised.items() if name not in LEARNING]
        learning = [f"`{name}` (iteration {v.raised[name]})" for name in v.learning]
        rows.append(f"| {v.name} | {v.format} | {v.lines:,} | {v.spikes} | {', '.join(learning) or 'none'} | "
                    f"{', '.join(other) or 'none'} |")
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("logs", nargs="*", type=Path)
    parser.add_argument("--seconds-per-line", type=float, default=1.0)
    args = parser.parse_args()
    paths = args.logs or (sorted(REAL_LOGS.glob("*.log")) if REAL_LOGS.is_dir() else [])
    verdicts = [real_log(path, args.seconds_per_line) for path in paths]
    with tempfile.TemporaryDirectory() as folder:
        verdicts += fixture_logs(Path(folder))
    print(table(verdicts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
