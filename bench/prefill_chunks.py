"""Prefill side by side, in one run: the 64 pairwise prompts of bench/judge_throughput.py prefilled as one
forward vs in chunks of 32, 16, 8 and 4 prompts (prompt tokens per second), then the engine's k = 1 sample
shape (96 new tokens, think64) with the shared prefix on and off (`MIN_SHARED_PREFIX` set past any prompt).

    .venv/bin/python bench/prefill_chunks.py
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from judge_throughput import REPO, pairwise_prompts, run_engine  # noqa: E402

from flexjudge.backbones.kvcache import PreallocatedCache  # noqa: E402
from flexjudge.backbones.loader import load_judge  # noqa: E402
from flexjudge.backbones.recipes import embedded_default_manifest  # noqa: E402
from flexjudge.core.app import setup_torch  # noqa: E402
from flexjudge.generate import hf  # noqa: E402
from flexjudge.generate.budget import Budget  # noqa: E402
from flexjudge.generate.engine import SamplingParams  # noqa: E402


@torch.inference_mode()
def prefill(model, chunk: list[list[int]], pad: int) -> None:
    """One left-padded forward over `chunk` into a preallocated cache."""
    width = max(len(e) for e in chunk)
    ids = torch.full((len(chunk), width), pad, dtype=torch.long)
    mask = torch.zeros((len(chunk), width), dtype=torch.long)
    for r, e in enumerate(chunk):
        ids[r, width - len(e) :], mask[r, width - len(e) :] = torch.tensor(e), 1
    model(
        input_ids=ids,
        attention_mask=mask,
        position_ids=(mask.cumsum(-1) - 1).clamp(min=0),
        past_key_values=PreallocatedCache(model.config, width),
        use_cache=True,
        logits_to_keep=1,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=64)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    setup_torch(args.threads)
    judge = load_judge(embedded_default_manifest(REPO), device="cpu")
    model, tok = judge.model, judge.tokenizer
    prompts = pairwise_prompts(tok, args.items)
    engine = hf.Engine(model, tok, budget=Budget(max_think_tokens=64), batch_size=80, batch_rows=80)
    encoded = sorted((engine.encode(p) for p in prompts), key=len, reverse=True)
    total = sum(len(e) for e in encoded)
    print(f"{len(encoded)} prompts, {total} tokens, {torch.get_num_threads()} threads")
    for size in (len(encoded), 32, 16, 8, 4):
        start = time.perf_counter()
        for i in range(0, len(encoded), size):
            prefill(model, encoded[i : i + size], tok.pad_token_id)
        seconds = time.perf_counter() - start
        print(f"prefill, {size} prompts per forward: {seconds:.1f}s = {total / seconds:.0f} prompt tok/s")
    params = SamplingParams(max_new_tokens=96, temperature=0.6, top_p=0.95, n=1)
    rates = {}
    for name, least in (("shared prefix on", hf.MIN_SHARED_PREFIX), ("shared prefix off", 10**9)):
        hf.MIN_SHARED_PREFIX = least
        tokens, seconds = run_engine(engine, prompts, params, True)
        rates[name] = tokens / seconds
        print(f"engine k=1, {name}: {tokens} tokens in {seconds:.1f}s = {rates[name]:.1f} tok/s")
    print(f"ratio on / off: {rates['shared prefix on'] / rates['shared prefix off']:.2f}")


if __name__ == "__main__":
    main()
