"""Plan formulas with hand-checked numbers; scenario 1 of the developers' guide exactly."""

import pytest

from exporter import units
from exporter.plan import formulas

# Scenario 1: a 12-layer, 384-wide GPT with GPT-2's padded vocabulary and no biases.
SCENARIO_1 = formulas.ModelShape(n_layer=12, n_head=6, n_embd=384, block_size=1024, vocab_size=50304, bias=False)


def test_parameter_count_scenario_1_is_40_56_million():
    # wte 50304·384 = 19,316,736; 12 blocks × (12·384² + 2·384) = 21,242,880; ln_f 384.
    assert formulas.parameter_count(SCENARIO_1) == 40_560_000
    # + wpe 1024·384 = 393,216
    assert formulas.parameter_count(SCENARIO_1, position_embeddings=True) == 40_953_216


def test_parameter_count_gpt2_small_matches_nanogpt():
    gpt2 = formulas.ModelShape(n_layer=12, n_head=12, n_embd=768, block_size=1024, vocab_size=50257, bias=True)
    # nanoGPT prints "number of parameters: 123.65M" for GPT-2 small; the full model has 124,439,808.
    assert formulas.parameter_count(gpt2, position_embeddings=True) == 124_439_808
    assert formulas.parameter_count(gpt2) == 124_439_808 - 1024 * 768
    assert round(formulas.parameter_count(gpt2) / 1e6, 2) == 123.65


def test_bias_adds_one_vector_per_linear_and_layer_norm():
    small = formulas.ModelShape(n_layer=1, n_head=1, n_embd=2, block_size=4, vocab_size=3, bias=False)
    # wte 6 + block (2 LN × 2 + attn 12 + 4 + mlp 16 + 16) + ln_f 2 = 60
    assert formulas.parameter_count(small) == 60
    with_bias = formulas.ModelShape(n_layer=1, n_head=1, n_embd=2, block_size=4, vocab_size=3, bias=True)
    # biases: 2 LN × 2 + qkv 6 + proj 2 + fc 8 + proj 2 + ln_f 2 = 24
    assert formulas.parameter_count(with_bias) == 84


def test_scenario_1_tokens_flops_epochs_energy():
    per_iter = formulas.tokens_per_iteration(batch_size=16, block_size=1024, grad_accum=32)
    assert per_iter == 524_288
    tokens = formulas.total_tokens(20_000, per_iter)
    assert tokens == 10_485_760_000
    flops = formulas.flops_6nd(40.56e6, tokens)
    assert flops == pytest.approx(2.5518e18, rel=1e-4)
    assert formulas.scientific(flops) == "2.55×10^18"
    assert round(formulas.epochs(tokens, 3.68e9), 2) == 2.85
    joules = formulas.energy_joules(200, 20 * 3600)
    assert units.kwh(joules) == pytest.approx(4.0)
    assert units.cost(joules, 0.15) == pytest.approx(0.60)


def test_world_size_and_nanogpt_grad_accum_split():
    # nanoGPT: 4 ranks share gradient_accumulation_steps=32 -> 8 per rank, same tokens per step.
    per_rank = formulas.per_rank_grad_accum(32, 4)
    assert per_rank == 8
    assert formulas.tokens_per_iteration(16, 1024, per_rank, 4) == 524_288
    with pytest.raises(ValueError, match="not divisible"):
        formulas.per_rank_grad_accum(5, 2)


def test_flops_per_token_includes_attention_term():
    # 6·40.56e6 + 12·12·6·64·1024 = 243,360,000 + 56,623,104
    assert formulas.flops_per_token(40.56e6, 12, 6, 384, 1024) == pytest.approx(299_983_104)


def test_dataset_tokens_are_uint16():
    assert formulas.dataset_tokens(7_360_000_000) == 3_680_000_000
    assert formulas.dataset_tokens(5) == 2


def test_eval_count_includes_iteration_zero():
    assert formulas.eval_count(20_000, 500) == 41
    assert formulas.eval_count(5000, 250) == 21
    assert formulas.eval_count(999, 500) == 2
    assert formulas.eval_count(100, 0) == 0


def test_eval_cost_scenario_2_about_5_8_seconds():
    # batch 16, block 512, grad-accum 4 at 170 ms/iteration; eval_iters 200.
    tokens_per_second = 16 * 512 * 4 / 0.170
    seconds = formulas.eval_seconds_from_throughput(200, 16, 512, 1, tokens_per_second)
    assert seconds == pytest.approx(2 * 200 * 0.170 / 4 / 3)  # 5.67 s
    assert 5.5 < seconds < 6.0
    # the same eval in FLOPs: 2 × 200 micro-batch forwards at a third of 6N+attention per token
    assert formulas.eval_flops(200, 16, 512, 3.0) == pytest.approx(2 * 200 * 16 * 512)


def test_seconds_at_mfu():
    # 1e18 FLOPs at 100 TFLOP/s × 0.5 on 2 GPUs = 10,000 s
    assert formulas.seconds_at_mfu(1e18, 100e12, 0.5, 2) == pytest.approx(10_000)


def test_durations_with_mfu_range_and_eval_cost():
    cases = formulas.durations(
        tokens=1e9,
        per_token_flops=1e9,
        evals=10,
        one_eval_flops=1e15,
        world_size=1,
        peak_flops=100e12,
        mfus=[0.25, 0.5],
        tokens_per_second=None,
        one_eval_seconds_measured=None,
        watts=300,
        other_watts=60,
        psu_efficiency=0.9,
        price_per_kwh=0.2,
    )
    low, high = cases
    assert low.mfu == 0.25 and low.train_seconds == pytest.approx(40_000)
    assert low.eval_seconds == pytest.approx(10 * 40)
    assert high.seconds == pytest.approx(20_000 + 200)
    # (300 + 60) W × 20,200 s / 0.9 = 8,080,000 J = 2.2444 kWh -> 0.4489
    assert high.energy_joules == pytest.approx(8_080_000)
    assert high.cost == pytest.approx(8_080_000 / 3.6e6 * 0.2)


def test_durations_from_measured_throughput():
    (case,) = formulas.durations(
        tokens=1e9,
        per_token_flops=1e9,
        evals=3,
        one_eval_flops=1e15,
        world_size=1,
        peak_flops=100e12,
        mfus=[0.3],
        tokens_per_second=50_000,
        one_eval_seconds_measured=6.0,
        watts=None,
        other_watts=0,
        psu_efficiency=1,
        price_per_kwh=0.15,
    )
    assert case.basis == "measured" and case.mfu is None
    assert case.seconds == pytest.approx(20_000 + 18)
    assert case.energy_joules is None and case.cost is None


def test_memory_estimate_scenario_1():
    total_params = formulas.parameter_count(SCENARIO_1, position_embeddings=True)
    estimate = formulas.memory_estimate(total_params, SCENARIO_1, batch_size=16, compiled=True)
    assert estimate.weights == 4 * 40_953_216
    assert estimate.gradients == 4 * 40_953_216
    assert estimate.optimizer == 8 * 40_953_216
    tokens = 16 * 1024
    assert estimate.activations == 12 * 34 * tokens * 384
    assert estimate.activations_checkpointed == 12 * 2 * tokens * 384 + 34 * tokens * 384
    assert estimate.logits == 4 * tokens * 50304
    assert estimate.total == pytest.approx(
        16 * 40_953_216 + 12 * 34 * tokens * 384 + 4 * tokens * 50304 + 768 * 2**20
    )
    assert estimate.total_checkpointed < estimate.total
    # about 7.3 GB: fits a 12 GiB RTX 4070
    assert formulas.memory_verdict(estimate.total, 12 * 2**30) == formulas.FITS
    eager = formulas.memory_estimate(total_params, SCENARIO_1, batch_size=16, compiled=False)
    assert eager.logits == 3 * estimate.logits


def test_memory_verdict_thresholds():
    assert formulas.memory_verdict(85, 100) == formulas.FITS
    assert formulas.memory_verdict(86, 100) == formulas.TIGHT
    assert formulas.memory_verdict(100, 100) == formulas.TIGHT
    assert formulas.memory_verdict(101, 100) == formulas.WILL_NOT_FIT


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.3", [0.3]),
        ("0.2-0.4", [0.2, 0.3, 0.4]),
        ("0.2,0.35", [0.2, 0.35]),
        ("30%", [0.3]),
        ("20-40%", [0.2, 0.3, 0.4]),
        ("45%", [0.45]),
        ("2.5%,45%", [0.025, 0.45]),
    ],
)
def test_mfu_values(text, expected):
    assert formulas.mfu_values(text) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["", "abc", "0", "-0.3", "150%", "0.4-0.2", "0.2-x", "45", "1.5", "20-40"])
def test_mfu_values_rejects_nonsense(text):
    with pytest.raises(ValueError, match="MFU"):
        formulas.mfu_values(text)


def test_emissions():
    assert units.emissions_grams(3.6e6, 400) == pytest.approx(400)


@pytest.mark.parametrize(
    ("value", "text"),
    [(2.5518e18, "2.55×10^18"), (3.1456e18, "3.15×10^18"), (9.999e14, "1.00×10^15"), (1.2e3, "1.20×10^3")],
)
def test_scientific_notation_has_the_right_exponent(value, text):
    assert formulas.scientific(value) == text


def test_planned_seconds_scenario_2_pace():
    # 20,000 iterations at 170 ms plus 41 evals (0, 500, …, 20,000) at 5.8 s
    assert formulas.planned_seconds(20_000, 0.17, 500, 5.8) == pytest.approx(3_400 + 41 * 5.8)
    assert formulas.planned_seconds(20_000, 0.17, None, 5.8) == pytest.approx(3_400)
    assert formulas.planned_seconds(20_000, 0.17, 500, None) == pytest.approx(3_400)
