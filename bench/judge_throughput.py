"""Judging throughput: the engine (shared prefill, batched votes) vs a naive loop, side by side.

Same model, same pairwise items, same k and token budget. The naive loop calls `model.generate` once
per item per vote at batch 1 (each call re-encodes the prompt); it is timed on the first
`--naive-items` items because at batch 1 it is slow and its rate does not depend on how many it does.

    .venv/bin/python bench/judge_throughput.py                 # embedded default, 64 items, k=5, 128 tokens
    .venv/bin/python bench/judge_throughput.py --naive-items 64  # time the naive loop on every item too
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from flexjudge.backbones.loader import load_judge
from flexjudge.backbones.recipes import embedded_default_manifest
from flexjudge.core.app import setup_torch
from flexjudge.core.io import stable_hash
from flexjudge.data.hh_rlhf import read_hh_rlhf
from flexjudge.generate.engine import Request, SamplingParams
from flexjudge.generate.hf import Engine
from flexjudge.judge.scoring import build_views
from flexjudge.protocol.formats import make_format
from flexjudge.protocol.prompts import render_prompt

REPO = Path(__file__).resolve().parents[1]


def pairwise_prompts(tokenizer, n: int) -> list[str]:
    """The first n short hh-rlhf harmless pairs as pairwise judge prompts, opened inside <think>."""
    items, _ = read_hh_rlhf(REPO / "data/hh-rlhf-harmless-base/test.jsonl.gz", on_bad_row="skip")
    items = [i.as_judge_item() for i in items if len(i.question) + len(i.chosen) + len(i.rejected) <= 600][:n]
    fmt = make_format("pair_verdict", None, 0, True)
    views = build_views(items, "random", 0)
    return [
        render_prompt(tokenizer, fmt.messages(v.item.question, v.answers, v.item.media), True) for v in views
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--judge", type=Path, help="judge.json (default: the embedded default, provisioned)")
    ap.add_argument("--items", type=int, default=64)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=16, help="engine prompts per batch (x k rows)")
    ap.add_argument("--naive-items", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    setup_torch(args.threads)
    judge = load_judge(args.judge or embedded_default_manifest(REPO), device="cpu")
    model, tok = judge.model, judge.tokenizer
    prompts = pairwise_prompts(tok, args.items)
    params = SamplingParams(max_new_tokens=args.max_new_tokens, temperature=0.6, top_p=0.95, n=args.k)
    print(
        f"model {judge.name} ({type(model).__name__}), {len(prompts)} items, k={args.k}, "
        f"{args.max_new_tokens} new tokens, {torch.get_num_threads()} threads"
    )

    engine = Engine(model, tok, batch_size=args.batch_size)
    requests = [Request(p, stable_hash("bench", p), tuple(range(args.k)), True) for p in prompts]
    start = time.perf_counter()
    gens = engine.generate(requests, params, desc="engine")
    engine_s = time.perf_counter() - start
    engine_tokens = sum(g.n_tokens for votes in gens for g in votes)
    engine_rate = engine_tokens / engine_s

    naive_tokens, start = 0, time.perf_counter()
    with torch.inference_mode():
        for prompt in prompts[: args.naive_items]:
            for vote in range(args.k):
                torch.manual_seed(vote)
                enc = tok(prompt, add_special_tokens=False, return_tensors="pt")
                out = model.generate(
                    **enc,
                    do_sample=True,
                    temperature=params.temperature,
                    top_p=params.top_p,
                    top_k=None,
                    max_new_tokens=params.max_new_tokens,
                    pad_token_id=tok.pad_token_id,
                )
                new = out[0, enc["input_ids"].shape[1] :].tolist()
                naive_tokens += len(new)
    naive_s = time.perf_counter() - start
    naive_rate = naive_tokens / naive_s

    print(f"engine: {engine_tokens} tokens in {engine_s:.1f}s = {engine_rate:.1f} generated tok/s")
    print(
        f"naive:  {naive_tokens} tokens in {naive_s:.1f}s = {naive_rate:.1f} generated tok/s "
        f"({args.naive_items} items x {args.k} votes, batch 1)"
    )
    print(f"ratio engine/naive: {engine_rate / naive_rate:.1f}x")


if __name__ == "__main__":
    main()
