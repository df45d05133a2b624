"""Judging throughput: the engine (shared prefill, batched votes) vs a naive loop, side by side, and the
engine at the sample stage's shape (k = 1) beside the evaluate shape (k = 5), all in one run.

Rows: engine k = 5 (pairwise items, `--max-new-tokens`), engine k = 1 at the demo's sample stage settings
(96 new tokens, think64 budget: thinking closed after 64 tokens), engine k = 1 short (32 new tokens: the
shape of the demo's rationalize passes, where each prompt is prefilled for few tokens), the k = 1 row again
while a second process runs the same work (the demo runs two model jobs at once, one thread each: with
`--threads 1` this is what a stage's log line there is to be set beside; `--no-beside` skips it; the second
process stops with this one), and the naive loop at k = 5, which calls
`model.generate` once per item per vote at batch 1 (each call re-encodes the prompt); it is timed on the
first `--naive-items` items because at batch 1 it is slow and its rate does not depend on how many it does.
Each rate is also printed as a share of this machine's roof: the fp32 matmul GFLOP/s measured in the same
run, against 2 × the model's parameters FLOPs per generated token.

    .venv/bin/python bench/judge_throughput.py                 # embedded default, 64 items, k=5, 128 tokens
    .venv/bin/python bench/judge_throughput.py --naive-items 64  # time the naive loop on every item too
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

from flexjudge.backbones.loader import load_judge
from flexjudge.backbones.recipes import embedded_default_manifest
from flexjudge.core.app import setup_torch
from flexjudge.core.cpu import cpu_has_bf16, matmul_gflops
from flexjudge.core.io import stable_hash
from flexjudge.data.hh_rlhf import read_hh_rlhf
from flexjudge.generate.budget import Budget
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


def run_engine(
    engine, prompts: list[str], params: SamplingParams, think_open: bool
) -> tuple[int, float, float]:
    """(generated tokens, seconds, prompt + generated tok/s) of one engine pass over the prompts with
    `params.n` votes each; prompt tokens as the engine counts them for the stage logs (`prompt_tokens`)."""
    requests = [Request(p, stable_hash("bench", p), tuple(range(params.n)), think_open) for p in prompts]
    prefilled = engine.prompt_tokens
    start = time.perf_counter()
    gens = engine.generate(requests, params, desc=f"engine k={params.n}")
    seconds = time.perf_counter() - start
    tokens = sum(g.n_tokens for votes in gens for g in votes)
    return tokens, seconds, (engine.prompt_tokens - prefilled + tokens) / seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--judge", type=Path, help="judge.json (default: the embedded default, provisioned)")
    ap.add_argument("--items", type=int, default=64)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument(
        "--sample-new-tokens", type=int, default=96, help="the k = 1 row's budget (the demo's sample)"
    )
    ap.add_argument("--sample-think", type=int, default=64, help="the k = 1 row's think budget (think64)")
    ap.add_argument(
        "--short-new-tokens",
        type=int,
        default=32,
        help="the short k = 1 row's budget (the demo's rationalize passes: 64 tokens in two halves)",
    )
    ap.add_argument("--batch-size", type=int, default=80, help="engine prompts per batch at most")
    ap.add_argument("--batch-rows", type=int, default=80, help="engine decoding rows per batch (prompts x k)")
    ap.add_argument("--naive-items", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument(
        "--no-beside",
        action="store_true",
        help="skip the k = 1 row run again beside a second process doing the same work",
    )
    ap.add_argument("--neighbour", action="store_true", help=argparse.SUPPRESS)  # the second process
    args = ap.parse_args()
    setup_torch(args.threads)
    roof = matmul_gflops()
    judge = load_judge(args.judge or embedded_default_manifest(REPO), device="cpu")
    model, tok = judge.model, judge.tokenizer
    flops_per_token = 2 * sum(p.numel() for p in model.parameters())
    prompts = pairwise_prompts(tok, args.items)
    params = SamplingParams(max_new_tokens=args.max_new_tokens, temperature=0.6, top_p=0.95, n=args.k)
    print(
        f"model {judge.name} ({type(model).__name__}, {next(model.parameters()).dtype}), {len(prompts)} items, "
        f"k={args.k}, {args.max_new_tokens} new tokens, {torch.get_num_threads()} threads; fp32 matmul roof "
        f"{roof:.1f} GFLOP/s; bf16 units: {'yes' if cpu_has_bf16() else 'no'}"
    )

    def share(rate: float) -> str:
        return f"{100 * rate * flops_per_token / 1e9 / roof:.1f} % of the roof"

    sample = SamplingParams(max_new_tokens=args.sample_new_tokens, temperature=0.6, top_p=0.95, n=1)
    sampler = Engine(
        model,
        tok,
        budget=Budget(max_think_tokens=args.sample_think),
        batch_size=args.batch_size,
        batch_rows=args.batch_rows,
    )
    if args.neighbour:  # the second process of the `beside` row: the same k = 1 work until stopped
        parent = os.getppid()
        print("ready", flush=True)
        while os.getppid() == parent:  # a parent killed without its `finally` orphans it: then it ends
            run_engine(sampler, prompts, sample, True)
        return

    engine = Engine(model, tok, batch_size=args.batch_size, batch_rows=args.batch_rows)
    engine_tokens, engine_s, k5_all = run_engine(engine, prompts, params, True)
    engine_rate = engine_tokens / engine_s

    k1_tokens, k1_s, k1_all = run_engine(sampler, prompts, sample, True)
    k1_rate = k1_tokens / k1_s
    beside_rate = None
    if not args.no_beside:  # the demo runs two model jobs at once, one per core: the rate each then gets
        neighbour = subprocess.Popen(
            [sys.executable, __file__, "--neighbour", *sys.argv[1:]],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            if not any(line.strip() == "ready" for line in neighbour.stdout):  # its header comes first
                raise RuntimeError("the neighbour process of the beside row ended before it was ready")
            beside_tokens, beside_s, _ = run_engine(sampler, prompts, sample, True)
            beside_rate = beside_tokens / beside_s
        finally:
            neighbour.kill()
            neighbour.wait()

    short = SamplingParams(max_new_tokens=args.short_new_tokens, temperature=0.6, top_p=0.95, n=1)
    short_tokens, short_s, short_all = run_engine(engine, prompts, short, True)
    short_rate = short_tokens / short_s

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

    print(
        f"engine k={args.k}: {engine_tokens} tokens in {engine_s:.1f}s = {engine_rate:.1f} tok/s ({share(engine_rate)})"
    )
    print(
        f"engine k=1 (sample stage: {args.sample_new_tokens} tokens, think {args.sample_think}): {k1_tokens} tokens "
        f"in {k1_s:.1f}s = {k1_rate:.1f} tok/s ({share(k1_rate)})"
    )
    if beside_rate is not None:
        print(
            f"engine k=1 beside a second process doing the same (as the demo's two jobs on {torch.get_num_threads()} "
            f"thread(s) each): {beside_rate:.1f} tok/s ({share(beside_rate)}; {beside_rate / k1_rate:.2f} of alone)"
        )
    print(
        f"engine k=1 short (rationalize: {args.short_new_tokens} tokens, no think budget): {short_tokens} tokens "
        f"in {short_s:.1f}s = {short_rate:.1f} tok/s ({share(short_rate)})"
    )
    print(
        f"naive k={args.k}:  {naive_tokens} tokens in {naive_s:.1f}s = {naive_rate:.1f} tok/s ({share(naive_rate)}; "
        f"{args.naive_items} items x {args.k} votes, batch 1)"
    )
    print(f"ratio engine/naive at k={args.k}: {engine_rate / naive_rate:.1f}x")
    print(f"ratio engine k=1 / k={args.k}: {k1_rate / engine_rate:.2f}")
    # every prompt is prefilled once whatever k (the prefix a batch's prompts share, once per batch): per
    # token through the model (each prompt's tokens + generated), the shapes compare the engine's work; the
    # stage logs print the same rate
    prompt_tokens = sum(len(engine.encode(p)) for p in prompts)
    print(
        f"prompt + generated tokens ({prompt_tokens} prompt tokens, each prompt counted once): engine k={args.k} "
        f"{k5_all:.1f} tok/s, k=1 {k1_all:.1f} tok/s, k=1 short {short_all:.1f} tok/s, ratio k=1 / k={args.k}: "
        f"{k1_all / k5_all:.2f}"
    )


if __name__ == "__main__":
    main()
