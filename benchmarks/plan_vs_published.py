"""`plan` against published training runs: the time `plan` gives at its default MFU for the GPU
beside the wall time the run took, and the MFU the run reached by `plan`'s FLOPs count.

    python3 benchmarks/plan_vs_published.py [--markdown]

Each run is given as the nanoGPT settings that describe it (shape, tokens per iteration, steps) and
the figures its source states; `plan` itself works out the rest (`build` in `exporter/commands/plan.py`).
modded-nanogpt's model differs from nanoGPT's (rotary embeddings, ReLU², other optimisers), so
its FLOPs are nanoGPT's for the same shape: the MFU is "by plan's count", as a user comparing
with plan would read it. Evals are left out where the source's time leaves them out.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from exporter import units  # noqa: E402

from exporter.commands import plan as plan_report  # noqa: E402

MODDED = "KellerJordan/modded-nanogpt @ f411b3d3"


@dataclass(frozen=True)
class PublishedRun:
    name: str
    gpu: str
    gpus: int
    settings: dict[str, int]  # nanoGPT settings: shape, batch × block × grad-accum, max_iters, evals
    seconds: float  # the wall (or training) time the source states
    source: str


RUNS = [
    PublishedRun("llm.c GPT-2 124M, 10B tokens", "A100 SXM4 80GB", 8,
                 {"n_layer": 12, "n_head": 12, "n_embd": 768, "batch_size": 64, "gradient_accumulation_steps": 8,
                  "max_iters": 19_073},
                 90 * 60, "karpathy/llm.c discussion #481: \"~90 minutes\" on one 8X A100 80GB SXM node"),
    PublishedRun("nanoGPT GPT-2 124M, 295B tokens (config/train_gpt2.py)", "A100 SXM4 40GB", 8,
                 {"n_layer": 12, "n_head": 12, "n_embd": 768, "batch_size": 12, "gradient_accumulation_steps": 40,
                  "max_iters": 600_000, "eval_interval": 1000, "eval_iters": 200},
                 4 * 86_400, "karpathy/nanoGPT README: \"about 4 days\" on a single 8XA100 40GB node"),
    PublishedRun("llm.c GPT-2 124M baseline, 10B tokens", "H100 SXM", 8,
                 {"n_layer": 12, "n_head": 12, "n_embd": 768, "batch_size": 64, "gradient_accumulation_steps": 8,
                  "max_iters": 19_073},
                 45 * 60, f"{MODDED} README, record 1: \"45 minutes\" on 8xH100"),
    PublishedRun("modded-nanogpt Muon record, 3.25B tokens", "H100 SXM", 8,
                 {"n_layer": 12, "n_head": 12, "n_embd": 768, "batch_size": 64, "gradient_accumulation_steps": 8,
                  "max_iters": 6_200},
                 1_339.067, f"{MODDED} records/track_1_short/2024-10-10_Muon/eb5659d0….txt: train_time 1339067ms"),
    PublishedRun("modded-nanogpt 1.5B (52 × 1536), 10B tokens", "H100 SXM", 8,
                 {"n_layer": 52, "n_head": 12, "n_embd": 1536, "batch_size": 60, "gradient_accumulation_steps": 8,
                  "max_iters": 20_344},
                 34_640.332, f"{MODDED} records/track_1_short/2024-10-20_ScaleUp1B/87bd51fd….txt: "
                 "train_time 34640332ms"),
    PublishedRun("modded-nanogpt sub-3-minute record, 0.73B tokens", "H100 SXM", 8,
                 {"n_layer": 12, "n_head": 6, "n_embd": 768, "batch_size": 64, "gradient_accumulation_steps": 8,
                  "max_iters": 1_393},
                 179.392, "../shared/real-logs/modded_2025-01-16_sub3min.log: 8 × H100 80GB HBM3 (its nvidia-smi), "
                 "batch 8*64*1024 tokens, train_time 179392ms"),
]


@dataclass(frozen=True)
class Comparison:
    run: PublishedRun
    gpu_name: str
    tokens: float
    plan_seconds: dict[float, float]  # MFU -> time (training + evals), at the GPU's default MFU
    general_seconds: dict[float, float]  # the same at the general default, 0.2-0.4
    reached_mfu: float


def plan_of(run: PublishedRun, mfu: str | None = None) -> plan_report.PlanResult:
    settings = {"block_size": 1024, "eval_interval": run.settings["max_iters"], "eval_iters": 1, **run.settings}
    argv = ["--gpu", run.gpu, "--world-size", str(run.gpus)] + (["--mfu", mfu] if mfu else [])
    for key, value in settings.items():
        argv += ["--override", f"{key}={value}"]
    parser = argparse.ArgumentParser()
    plan_report.add_arguments(parser)
    return plan_report.build(parser.parse_args(argv))


def compare(run: PublishedRun) -> Comparison:
    result, general = plan_of(run), plan_of(run, plan_report.DEFAULT_MFU)
    reached = result.flops_with_attention / (run.seconds * run.gpus * result.gpu.bf16_dense_flops)
    return Comparison(run, result.gpu.name, result.total_tokens, {d.mfu: d.seconds for d in result.durations},
                      {d.mfu: d.seconds for d in general.durations}, reached)


def _times(seconds: dict[float, float]) -> str:
    return " / ".join(f"{units.duration(seconds[m])} ({m:.0%})" for m in sorted(seconds))


def render(comparisons: list[Comparison], markdown: bool) -> str:
    header = ["run", "GPUs", "tokens", "published time", "MFU reached (plan's FLOPs)",
              "plan at the GPU's default MFU (low / middle / high)", "plan at 0.2-0.4 (the default before)", "source"]
    rows = [[c.run.name, f"{c.run.gpus} × {c.gpu_name}", f"{c.tokens / 1e9:.2f}B", units.duration(c.run.seconds),
             f"{c.reached_mfu:.0%}", _times(c.plan_seconds), _times(c.general_seconds), c.run.source]
            for c in comparisons]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])
    return "\n".join("  ".join(row) for row in [header] + rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args(argv)
    print(render([compare(run) for run in RUNS], args.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
