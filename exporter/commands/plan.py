"""The ``plan`` command: what a nanoGPT run will need (tokens, FLOPs, time, memory, energy, cost)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from exporter.commands import overrides
from exporter.commands.config import RANGES, Config
from exporter.errors import UsageError
from exporter.gpu.specs import GpuSpec, known_names, lookup
from exporter.plan import formulas
from exporter.plan import render
from exporter.plan.result import PlanResult
from exporter.trainer.config_file import read_config_file
from exporter.trainer.nanogpt import resolve

DEFAULT_MFU = "0.2-0.4"  # where the GPU is unknown or has no range of its own in exporter/data/gpus.yml

# The counts the plan uses, each a whole number of 1 or more.
_COUNTS = ("batch_size", "block_size", "gradient_accumulation_steps", "max_iters", "n_layer", "n_head",
           "n_embd", "vocab_size", "eval_interval", "eval_iters")


class PlanError(UsageError):
    """A problem with the plan's inputs, worded for the person who typed them."""


def _amount(text: str) -> float:
    """``3.68e9``, ``3.68B``, ``40.56M``, ``524,288`` -> a positive number (argparse shows why not)."""
    try:
        return overrides.amount(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be zero or more")
    return value


def _efficiency(text: str) -> float:
    value = _non_negative(text)
    low, high = RANGES["psu_efficiency"]
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"{text!r} must lie between {low:g} and {high:g}")
    return value


def _world_size(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = Config()
    parser.add_argument("trainer_config", nargs="?", metavar="CONFIG", default=argparse.SUPPRESS,
                        help="nanoGPT config file, e.g. config/train_gpt2.py (read, never executed); "
                             "without it nanoGPT's train.py defaults apply")
    parser.add_argument("--trainer-config", dest="trainer_config", metavar="PATH",
                        help="the same as CONFIG, by the name status and serve give it")
    parser.add_argument("--override", action="append", default=[], metavar="KEY=VALUE",
                        help="trainer setting that wins over the file, as on train.py's command line; repeatable")
    parser.add_argument("--gpu", metavar="NAME", help='GPU model, e.g. "RTX 4070" or "H100 SXM"')
    data = parser.add_mutually_exclusive_group()
    data.add_argument("--dataset", metavar="PATH", help="nanoGPT train.bin (uint16 tokens: size / 2)")
    data.add_argument("--dataset-tokens", type=_amount, metavar="N", help="dataset size in tokens, e.g. 3.68e9")
    parser.add_argument("--mfu", metavar="X",
                        help="model FLOPs utilisation as a fraction or a percentage: 0.3 or 30%%, a range "
                             f"0.2-0.4 or 20-40%%, a list 0.2,0.3 (default {DEFAULT_MFU}; on A100 and H100/H200 "
                             "the range their published runs reached, see README)")
    parser.add_argument("--tokens-per-second", type=_amount, metavar="X",
                        help="measured throughput of the whole run; replaces the MFU estimate")
    parser.add_argument("--params", type=_amount, metavar="N",
                        help="parameter count as the trainer prints it (e.g. 40.56M) instead of the computed one")
    parser.add_argument("--watts", type=_amount, metavar="W",
                        help="measured mean power of all the run's GPUs together (default: board power × GPUs)")
    parser.add_argument("--other-watts", type=_non_negative, default=defaults.other_watts, metavar="W",
                        help=f"rest of the machine: CPU, RAM, fans (default {defaults.other_watts:g})")
    parser.add_argument("--psu-efficiency", type=_efficiency, default=defaults.psu_efficiency, metavar="X",
                        help=f"power supply efficiency, 0.05-1 (default {defaults.psu_efficiency:g})")
    parser.add_argument("--price-per-kwh", "--price", dest="price_per_kwh", type=_non_negative,
                        default=defaults.price_per_kwh, metavar="X",
                        help=f"electricity price per kWh, as serve's flag (default {defaults.price_per_kwh:g})")
    parser.add_argument("--currency", default=defaults.currency, metavar="CODE",
                        help=f"currency of the price (default {defaults.currency})")
    parser.add_argument("--world-size", type=_world_size, default=1, metavar="N",
                        help="number of GPUs (DDP ranks); nanoGPT splits gradient_accumulation_steps among them")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _trainer_settings(args: argparse.Namespace) -> tuple[dict[str, Any], list[str]]:
    layers: list[dict[str, Any]] = []
    if args.trainer_config:
        layers.append(read_config_file(args.trainer_config))
    flagged, problems = overrides.from_flags(args.override)
    layers.append(flagged)
    given = set().union(*layers)
    settings = resolve(*layers)
    for key in _COUNTS:
        try:
            settings[key] = overrides.count(key, settings[key])
        except ValueError as exc:
            problems.append(f"{key}: {exc}")
    if not problems and settings["n_embd"] % settings["n_head"]:
        problems.append(f"n_embd: {settings['n_embd']} is not divisible by n_head={settings['n_head']}")
    if problems:
        where = args.trainer_config or "the nanoGPT defaults"
        raise PlanError(f"unusable trainer settings (from {where} and --override):\n" +
                        "\n".join(f"  - {p}" for p in problems))
    defaulted = sorted(key for key in ("vocab_size", "max_iters", "batch_size", "block_size",
                                       "gradient_accumulation_steps", "n_layer", "n_head", "n_embd")
                       if key not in given)
    return settings, defaulted


def _gpu(name: str | None) -> GpuSpec | None:
    if not name:
        return None
    spec = lookup(name)
    if spec is None:
        examples = ", ".join(n.replace("NVIDIA ", "").replace("GeForce ", "") for n in known_names()[::4])
        raise PlanError(f"unknown GPU {name!r}; known models include {examples} "
                        "(or leave out --gpu and pass --tokens-per-second and --watts)")
    return spec


def _dataset(args: argparse.Namespace) -> tuple[int | None, str | None]:
    if args.dataset_tokens:
        return int(args.dataset_tokens), "--dataset-tokens"
    if not args.dataset:
        return None, None
    try:
        with open(args.dataset, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
    except OSError as exc:
        raise PlanError(f"cannot read dataset {args.dataset}: {exc.strerror or exc}") from exc
    if size < formulas.BYTES_PER_DATASET_TOKEN:
        raise PlanError(f"dataset {args.dataset} is empty: a nanoGPT train.bin holds uint16 tokens")
    return formulas.dataset_tokens(size), args.dataset


def build(args: argparse.Namespace) -> PlanResult:
    """Every figure of the plan from the parsed arguments; :class:`UsageError` for bad inputs."""
    gpu = _gpu(args.gpu)
    try:
        mfus = formulas.mfu_values(args.mfu or (gpu and gpu.mfu) or DEFAULT_MFU)
    except UsageError as exc:
        raise PlanError(f"--mfu: {exc}") from exc
    if not args.currency.strip():
        raise PlanError("--currency must not be empty")
    settings, defaulted = _trainer_settings(args)
    tokens_in_dataset, dataset_source = _dataset(args)
    grad_accum = formulas.per_rank_grad_accum(settings["gradient_accumulation_steps"], args.world_size)
    shape = formulas.ModelShape(
        n_layer=settings["n_layer"], n_head=settings["n_head"], n_embd=settings["n_embd"],
        block_size=settings["block_size"], vocab_size=settings["vocab_size"], bias=bool(settings["bias"]),
    )
    computed = formulas.parameter_count(shape)
    parameters = args.params or computed
    position = shape.block_size * shape.n_embd
    batch = settings["batch_size"]
    per_iter = formulas.tokens_per_iteration(batch, shape.block_size, grad_accum, args.world_size)
    tokens = formulas.total_tokens(settings["max_iters"], per_iter)
    per_token = formulas.flops_per_token(parameters, shape.n_layer, shape.n_head, shape.n_embd, shape.block_size)
    evals = formulas.eval_count(settings["max_iters"], settings["eval_interval"])
    one_eval = formulas.eval_flops(settings["eval_iters"], batch, shape.block_size, per_token)
    watts, watts_source = _watts(args, gpu)
    compiled = bool(settings.get("compile", True))
    memory = formulas.memory_estimate(parameters + position, shape, batch, compiled=compiled)
    return PlanResult(
        source=args.trainer_config or "nanoGPT defaults", defaulted_keys=defaulted, shape=shape, batch_size=batch,
        grad_accum_per_rank=grad_accum, world_size=args.world_size, max_iters=settings["max_iters"],
        eval_interval=settings["eval_interval"], eval_iters=settings["eval_iters"], compiled=compiled,
        parameters=parameters, parameters_source="--params" if args.params else "computed",
        parameters_computed=computed, parameters_with_position_embeddings=parameters + position,
        tokens_per_iteration=per_iter, total_tokens=tokens, dataset_tokens=tokens_in_dataset,
        dataset_source=dataset_source,
        epochs=formulas.epochs(tokens, tokens_in_dataset) if tokens_in_dataset else None,
        flops_per_token=per_token, flops_6nd=formulas.flops_6nd(parameters, tokens),
        flops_with_attention=per_token * tokens, evals=evals, eval_flops=one_eval, gpu=gpu, watts=watts,
        watts_source=watts_source, other_watts=args.other_watts, psu_efficiency=args.psu_efficiency,
        price_per_kwh=args.price_per_kwh, currency=args.currency.strip(),
        durations=_durations(args, settings, gpu, mfus, tokens, per_token, evals, one_eval, watts),
        memory=memory,
        memory_verdict=formulas.memory_verdict(memory.total, gpu.memory_bytes) if gpu else None,
        memory_verdict_checkpointed=formulas.memory_verdict(memory.total_checkpointed, gpu.memory_bytes) if gpu else None,
    )


def _watts(args: argparse.Namespace, gpu: GpuSpec | None) -> tuple[float | None, str | None]:
    """The GPUs' power for the energy figures: --watts, else the GPU model's board power."""
    if args.watts:
        return args.watts, "--watts"
    if gpu:
        return gpu.board_watts * args.world_size, "board power"
    return None, None


def _durations(args: argparse.Namespace, settings: dict[str, Any], gpu: GpuSpec | None, mfus: list[float],
               tokens: int, per_token: float, evals: int, one_eval: float,
               watts: float | None) -> list[formulas.Duration]:
    measured_eval = None
    if args.tokens_per_second:
        measured_eval = formulas.eval_seconds_from_throughput(
            settings["eval_iters"], settings["batch_size"], settings["block_size"], args.world_size,
            args.tokens_per_second)
    return formulas.durations(
        tokens=tokens, per_token_flops=per_token, evals=evals, one_eval_flops=one_eval,
        world_size=args.world_size, peak_flops=gpu.bf16_dense_flops if gpu else None, mfus=mfus,
        tokens_per_second=args.tokens_per_second, one_eval_seconds_measured=measured_eval,
        watts=watts, other_watts=args.other_watts, psu_efficiency=args.psu_efficiency,
        price_per_kwh=args.price_per_kwh,
    )


def run(args: argparse.Namespace) -> int:
    try:
        result = build(args)
    except UsageError as exc:
        print(f"training-exporter plan: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(render.as_dict(result), indent=2))
    else:
        print(render.render(result), end="")
    return 0

