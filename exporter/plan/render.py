"""The plan as a person reads it (a table) and as a program reads it (a dict for JSON)."""

from __future__ import annotations

import textwrap
from dataclasses import asdict
from typing import Any

from exporter import units
from exporter.plan import formulas
from exporter.plan.result import PlanResult
from exporter.units import duration

_GIB = 2**30
WIDTH = 80  # columns of the table: a terminal's usual width


def _millions(value: float) -> str:
    return f"{value / 1e6:,.2f}M ({value:,.0f})"


def _gib(value: float) -> str:
    return f"{value / _GIB:.2f} GiB"


def _rows(rows: list[tuple[str, str]]) -> list[str]:
    """``label  value`` rows, the values in one column, wrapped within :data:`WIDTH`."""
    width = max(len(label) for label, _ in rows)
    lines = []
    for label, value in rows:
        wrapped = textwrap.wrap(value, max(WIDTH - width - 4, 20), break_on_hyphens=False) or [""]
        lines += [f"  {label.ljust(width)}  {wrapped[0]}", *(" " * (width + 4) + more for more in wrapped[1:])]
    return lines


def _fit(line: str) -> list[str]:
    """A line wrapped within :data:`WIDTH`, its continuation indented under its text."""
    indent = " " * (len(line) - len(line.lstrip()) + 2)
    return textwrap.wrap(line, WIDTH, subsequent_indent=indent, break_on_hyphens=False) or [""]


def render(p: PlanResult) -> str:
    lines = [f"Plan for {p.source}"]
    if p.defaulted_keys:
        lines.append(f"  (nanoGPT defaults used for: {', '.join(p.defaulted_keys)}; set them with --override)")
    for section in (_model, _tokens, _compute, _time, _memory):
        lines += ["", *section(p)]
    return "\n".join(fitted for line in lines for fitted in _fit(line)) + "\n"


def _model(p: PlanResult) -> list[str]:
    s = p.shape
    params_note = " (--params)" if p.parameters_source == "--params" else ""
    return ["Model", *_rows([
        ("parameters, as nanoGPT prints (no wpe)", _millions(p.parameters) + params_note),
        ("parameters with position embeddings", _millions(p.parameters_with_position_embeddings)),
        ("shape", f"{s.n_layer} layers × {s.n_head} heads × {s.n_embd} wide, block {s.block_size}, "
                  f"vocab {s.vocab_size:,}, bias {'yes' if s.bias else 'no'}"),
    ])]


def _tokens(p: PlanResult) -> list[str]:
    data_rows = [
        ("tokens per iteration", f"{p.tokens_per_iteration:,} (batch {p.batch_size} × block {p.shape.block_size} × "
                                 f"grad-accum {p.grad_accum_per_rank} × {p.world_size} GPU"
                                 f"{'s' if p.world_size > 1 else ''})"),
        ("total tokens for max_iters", f"{p.total_tokens:,} ({p.total_tokens / 1e9:,.2f}B over "
                                       f"{p.max_iters:,} iterations)"),
    ]
    if p.dataset_tokens:
        data_rows.append(("dataset", f"{p.dataset_tokens:,} tokens ({p.dataset_source})"))
        data_rows.append(("epochs", f"{p.epochs:.2f}"))
    return ["Tokens", *_rows(data_rows)]


def _compute(p: PlanResult) -> list[str]:
    return ["Compute", *_rows([
        ("training FLOPs, 6·N·D", formulas.scientific(p.flops_6nd)),
        ("training FLOPs, with attention", f"{formulas.scientific(p.flops_with_attention)} "
                                           f"({formulas.scientific(p.flops_per_token)} per token: 6N + 12·L·H·Q·T)"),
        ("evals", f"{p.evals} (every {p.eval_interval:,} iterations, {p.eval_iters} batches × 2 splits, "
                  f"{formulas.scientific(p.eval_flops)} FLOPs each)"),
    ])]


def _time(p: PlanResult) -> list[str]:
    lines = _time_title(p).split("\n")
    if p.durations:
        lines += _duration_table(p)
    else:
        lines.append("  (pass --gpu, or --tokens-per-second, to estimate time, energy and cost)")
    if p.durations and p.watts is None:
        lines.append("  (pass --gpu or --watts for energy and cost)")
    return lines


def _memory(p: PlanResult) -> list[str]:
    m = p.memory
    return ["Peak GPU memory per GPU (an estimate)", *_rows([
        ("weights (fp32)", _gib(m.weights)),
        ("gradients (fp32)", _gib(m.gradients)),
        ("AdamW states (fp32)", _gib(m.optimizer)),
        (f"activations (batch {p.batch_size} × block {p.shape.block_size})", _gib(m.activations)),
        (f"logits and loss ({'compiled' if p.compiled else 'eager'})", _gib(m.logits)),
        ("CUDA context and allocator", _gib(m.overhead)),
        ("total", _gib(m.total) + _verdict(p.memory_verdict, p)),
        ("with activation checkpointing", f"{_gib(m.total_checkpointed)} (activations "
                                          f"{_gib(m.activations_checkpointed)})"
                                          + _verdict(p.memory_verdict_checkpointed, p)),
    ])]


def _verdict(verdict: str | None, p: PlanResult) -> str:
    if verdict is None or p.gpu is None:
        return ""
    return f" of {_gib(p.gpu.memory_bytes)}: {verdict.upper()}"


def _time_title(p: PlanResult) -> str:
    if p.durations and p.durations[0].basis == "measured":
        return "Time, energy and cost at the measured throughput"
    if p.gpu:
        return (f"Time, energy and cost\n  on {p.world_size} × {p.gpu.name} "
                f"({p.gpu.bf16_dense_flops / 1e12:,.1f} TFLOP/s dense BF16 each)")
    return "Time, energy and cost"


def _duration_table(p: PlanResult) -> list[str]:
    header = ["MFU", "time", "of which evals", "energy", f"cost ({p.currency})"]
    rows = []
    for d in p.durations:
        rows.append([
            "measured" if d.mfu is None else f"{d.mfu:.0%}",
            duration(d.seconds),
            duration(d.eval_seconds),
            "-" if d.energy_joules is None else f"{units.kwh(d.energy_joules):,.2f} kWh",
            "-" if d.cost is None else f"{d.cost:,.2f}",
        ])
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    table = ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in [header, *rows]]
    if p.watts is not None:
        extra = f" + {p.other_watts:g} W rest of machine" if p.other_watts else ""
        psu = f", PSU efficiency {p.psu_efficiency:g}" if p.psu_efficiency != 1 else ""
        table.append(f"  power: {p.watts:,.0f} W ({p.watts_source}){extra}{psu}; "
                     f"price {p.price_per_kwh:g} {p.currency}/kWh")
    return table


def as_dict(p: PlanResult) -> dict[str, Any]:
    data = asdict(p)
    data["durations"] = [{**asdict(d), "seconds": d.seconds,
                          "energy_kwh": None if d.energy_joules is None else units.kwh(d.energy_joules)}
                         for d in p.durations]
    data["memory"] = {**asdict(p.memory), "total": p.memory.total,
                      "total_checkpointed": p.memory.total_checkpointed}
    return data
