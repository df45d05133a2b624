"""CPU capability detection and the dtype a checkpoint loads in on a CPU."""

import pytest

from flexjudge.backbones import loader
from flexjudge.core import cpu

EPYC = "processor\t: 0\nflags\t\t: fpu sse2 avx2 fma avx512f\n"
SAPPHIRE = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16 amx_bf16\n"
GRAVITON = "processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\n"


def test_cpu_flags_read_x86_and_arm_lines():
    assert "avx512f" in cpu.cpu_flags(EPYC) and not cpu.cpu_flags(EPYC) & cpu.BF16_FLAGS
    assert cpu.cpu_flags(SAPPHIRE) & cpu.BF16_FLAGS == {"avx512_bf16", "amx_bf16"}
    assert "bf16" in cpu.cpu_flags(GRAVITON)
    assert cpu.cpu_flags("") == set()


@pytest.mark.parametrize("has_bf16", [False, True])
def test_bf16_is_a_cpu_default_only_with_bf16_units(monkeypatch, has_bf16):
    monkeypatch.setattr(cpu, "cpu_has_bf16", lambda: has_bf16)
    # a bf16 checkpoint on the CPU: float32 unless the CPU has the units
    assert loader.load_dtype("bfloat16", None, "cpu") == ("bfloat16" if has_bf16 else "float32")
    # asked for explicitly: honoured either way (with a warning where it is slow)
    assert loader.load_dtype("float32", "bfloat16", "cpu") == "bfloat16"
    # on a GPU the checkpoint's dtype stands
    assert loader.load_dtype("bfloat16", None, "cuda:0") == "bfloat16"
    assert loader.load_dtype("float32", None, "cpu") == "float32"


def test_an_unknown_dtype_names_the_choices():
    with pytest.raises(ValueError, match="float32"):
        loader.load_dtype("fp8", None, "cpu", "judge.json")


def test_matmul_rate_is_measured():
    assert cpu.matmul_gflops(n=128, seconds=0.05) > 0
