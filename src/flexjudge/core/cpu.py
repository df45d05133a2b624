"""What this CPU can do: whether it has bf16 units, and its fp32 matmul rate (the benches' roof).

These machines differ (docs/design.md): bf16 runs ~2× fp32 where the CPU has bf16 units (AVX512-BF16 or
AMX on x86, the BF16 extension on Arm) and at ~1 GFLOP/s where it has none, so bf16 is used on a CPU only
where `cpu_has_bf16()` says so.
"""

from __future__ import annotations

import functools
import platform
import time
from pathlib import Path

#: /proc/cpuinfo flags that mean native bf16 arithmetic (x86 "flags", Arm "Features").
BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})


def cpu_flags(cpuinfo: str | None = None) -> set[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none, e.g. macOS)."""
    if cpuinfo is None:
        path = Path("/proc/cpuinfo")
        cpuinfo = path.read_text(errors="replace") if path.exists() else ""
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features"):
            flags.update(value.split())
    return flags


@functools.cache
def cpu_has_bf16() -> bool:
    """Whether this CPU computes bf16 natively (Apple silicon: yes; elsewhere read from its flags)."""
    if platform.system() == "Darwin" and platform.machine() == "arm64":
        return True
    return bool(cpu_flags() & BF16_FLAGS)


def matmul_gflops(n: int = 1024, seconds: float = 1.0) -> float:
    """fp32 matmul GFLOP/s of an n×n product on torch's CPU threads, timed over about `seconds`."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)  # warm-up
    reps, start = 0, time.perf_counter()
    while True:
        torch.mm(a, b)
        reps += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return 2 * n**3 * reps / elapsed / 1e9
