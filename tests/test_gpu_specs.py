"""GPU spec lookup by NVML product name and by typed name."""

import dataclasses

import pytest

from exporter.gpu.specs import GpuSpec, known_names, lookup

GIB = 2**30


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("NVIDIA GeForce RTX 4070", "NVIDIA GeForce RTX 4070"),
        ("RTX 4070", "NVIDIA GeForce RTX 4070"),
        ("rtx4070", "NVIDIA GeForce RTX 4070"),
        ("NVIDIA GeForce RTX 4070 Ti", "NVIDIA GeForce RTX 4070 Ti"),
        ("RTX 4070 Ti", "NVIDIA GeForce RTX 4070 Ti"),
        ("rtx 4070ti", "NVIDIA GeForce RTX 4070 Ti"),
        ("NVIDIA GeForce RTX 4070 SUPER", "NVIDIA GeForce RTX 4070 SUPER"),
        ("NVIDIA GeForce RTX 4070 Ti SUPER", "NVIDIA GeForce RTX 4070 Ti SUPER"),
        ("NVIDIA GeForce RTX 4060 Ti", "NVIDIA GeForce RTX 4060 Ti"),
        ("4060 Ti 16GB", "NVIDIA GeForce RTX 4060 Ti 16GB"),
        ("NVIDIA GeForce RTX 4060", "NVIDIA GeForce RTX 4060"),
        ("NVIDIA GeForce RTX 4080", "NVIDIA GeForce RTX 4080"),
        ("NVIDIA GeForce RTX 4080 SUPER", "NVIDIA GeForce RTX 4080 SUPER"),
        ("NVIDIA GeForce RTX 4090", "NVIDIA GeForce RTX 4090"),
        ("NVIDIA GeForce RTX 5090", "NVIDIA GeForce RTX 5090"),
        ("NVIDIA GeForce RTX 3060", "NVIDIA GeForce RTX 3060"),
        ("NVIDIA GeForce RTX 3060 Ti", "NVIDIA GeForce RTX 3060 Ti"),
        ("NVIDIA GeForce RTX 3070", "NVIDIA GeForce RTX 3070"),
        ("NVIDIA GeForce RTX 3080", "NVIDIA GeForce RTX 3080"),
        ("NVIDIA GeForce RTX 3080 Ti", "NVIDIA GeForce RTX 3080 Ti"),
        ("NVIDIA GeForce RTX 3090", "NVIDIA GeForce RTX 3090"),
        ("NVIDIA GeForce RTX 3090 Ti", "NVIDIA GeForce RTX 3090 Ti"),
        ("Tesla V100-SXM2-16GB", "Tesla V100 SXM2 16GB"),
        ("Tesla V100-SXM2-32GB", "Tesla V100 SXM2 32GB"),
        ("Tesla V100-PCIE-32GB", "Tesla V100 PCIe 32GB"),
        ("Tesla T4", "Tesla T4"),
        ("NVIDIA A10", "NVIDIA A10"),
        ("NVIDIA A100-SXM4-40GB", "NVIDIA A100 SXM4 40GB"),
        ("NVIDIA A100-SXM4-80GB", "NVIDIA A100 SXM4 80GB"),
        ("NVIDIA A100-PCIE-40GB", "NVIDIA A100 PCIe 40GB"),
        ("NVIDIA A100 80GB PCIe", "NVIDIA A100 PCIe 80GB"),
        ("a100", "NVIDIA A100 SXM4 40GB"),
        ("NVIDIA L4", "NVIDIA L4"),
        ("NVIDIA L40", "NVIDIA L40"),
        ("NVIDIA L40S", "NVIDIA L40S"),
        ("NVIDIA H100 80GB HBM3", "NVIDIA H100 SXM5 80GB"),
        ("NVIDIA H100 PCIe", "NVIDIA H100 PCIe"),
        ("NVIDIA H100 NVL", "NVIDIA H100 NVL"),
        ("NVIDIA H200", "NVIDIA H200"),
        ("NVIDIA B200", "NVIDIA B200"),
    ],
)
def test_lookup_matches_the_right_model(name, expected):
    spec = lookup(name)
    assert spec is not None
    assert spec.name == expected


@pytest.mark.parametrize(
    "name",
    [
        "",
        "NVIDIA GeForce GTX 1080",
        "NVIDIA A10G",  # a different card from the A10, not in the table
        "NVIDIA RTX A1000",  # must not be read as an A100
        "NVIDIA GeForce RTX 4070 Laptop GPU",  # laptop clocks and power differ
        "NVIDIA GeForce RTX 4090 D",
        "40700",
    ],
)
def test_unknown_models_are_none(name):
    assert lookup(name) is None


def test_figures_are_dense_bf16_not_sparsity():
    # Ada whitepaper: RTX 4090 165.2 TFLOPS BF16 (FP32 accumulate) dense, 330.4 with sparsity.
    assert lookup("RTX 4090").bf16_dense_flops == pytest.approx(165.2e12)
    # A100 datasheet: 312 dense (624 with sparsity); H100 SXM 1,979 with sparsity -> 989.5 dense.
    assert lookup("NVIDIA A100-SXM4-80GB").bf16_dense_flops == pytest.approx(312e12)
    assert lookup("NVIDIA H100 80GB HBM3").bf16_dense_flops == pytest.approx(989.5e12)
    # RTX 4070: 184 tensor cores at 2475 MHz scaled from the 4090 (512 at 2520 MHz).
    assert lookup("RTX 4070").bf16_dense_flops == pytest.approx(165.2e12 * 184 / 512 * 2475 / 2520, rel=1e-3)


def test_board_power_and_memory():
    rtx4070 = lookup("NVIDIA GeForce RTX 4070")
    assert rtx4070.board_watts == 200
    assert rtx4070.memory_bytes == 12 * GIB
    assert lookup("NVIDIA H100 80GB HBM3").board_watts == 700
    assert lookup("NVIDIA A100-SXM4-80GB").memory_bytes == 80 * GIB


def test_every_entry_is_sane_and_reachable_by_its_own_name():
    names = known_names()
    assert len(names) == len(set(names))
    for name in names:
        spec = lookup(name)
        assert spec is not None and spec.name == name, name
        assert 10e12 < spec.bf16_dense_flops < 5e15
        assert 50 <= spec.board_watts <= 1500
        assert 8 * GIB <= spec.memory_bytes <= 200 * GIB


def test_spec_is_frozen():
    spec = lookup("RTX 4070")
    assert isinstance(spec, GpuSpec)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.board_watts = 1  # type: ignore[misc]
