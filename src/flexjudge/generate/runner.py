"""Votes for many prompts through an engine, with the per-vote cache and data-parallel shards.

The batch plan is made over all prompts, whatever is cached or sharded: shard i of n takes every
n-th batch, a rerun regenerates only the votes the cache lacks, and any batch that is (re)computed
has the members it has in a single uninterrupted run, so its votes come out the same.
Shard 0 assembles the result once every shard's votes are in the cache; other shards return None.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from flexjudge.generate.engine import Generation, Request, SamplingParams
from flexjudge.generate.store import GenerationStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Shard:
    """This process's part of a data-parallel evaluation."""

    index: int = 0
    count: int = 1

    @classmethod
    def resolve(cls, index: int | None, count: int | None) -> Shard:
        """Explicit settings win; else RANK / WORLD_SIZE from torchrun or `accelerate launch`; else 0 of 1."""
        count = int(os.environ.get("WORLD_SIZE", 1)) if count is None else int(count)
        index = int(os.environ.get("RANK", 0)) if index is None else int(index)
        if count < 1 or not 0 <= index < count:
            raise ValueError(f"shard index {index} of {count}: need 0 <= index < count")
        return cls(index, count)


@dataclass(frozen=True)
class VoteCounts:
    """How many votes the run needed, found in the cache, and generated here."""

    total: int
    cached: int
    generated: int


def generate_votes(
    engine,
    requests: Sequence[Request],
    lengths: Sequence[int],
    params: SamplingParams,
    keys: Sequence[Sequence[str]],
    *,
    store: GenerationStore | None,
    shard: Shard = Shard(),
    wait_s: float = 3600.0,
    desc: str = "judge",
    progress: bool = True,
    log_fn: Callable[[str], None] = log.info,
) -> tuple[list[list[Generation]] | None, VoteCounts]:
    """Each request's votes (keys[i][j] names vote requests[i].votes[j]), from the cache or the engine."""
    if shard.count > 1 and store is None:
        raise ValueError("sharded evaluation needs the generation cache (evaluate.cache must be set)")
    all_keys = [k for ks in keys for k in ks]
    cached = store.get_many(all_keys) if store is not None else {}
    plan = engine.plan(lengths, [len(r.votes) for r in requests], params)[shard.index :: shard.count]
    todo: list[Request] = []
    for req, ks in zip(requests, keys, strict=True):
        missing = tuple(v for v, k in zip(req.votes, ks, strict=True) if k not in cached)
        todo.append(replace(req, votes=missing))
    batches = [[i for i in batch if todo[i].votes] for batch in plan]
    batches = [b for b in batches if b]
    mine = sum(len(todo[i].votes) for b in batches for i in b)
    log_fn(
        f"{desc}: {len(all_keys)} votes for {len(requests)} prompts; {len(cached)} in the cache; "
        f"generating {mine} in {len(batches)} batches"
        + (f" (shard {shard.index} of {shard.count})" if shard.count > 1 else "")
    )
    fresh: dict[str, Generation] = {}

    def keep(indices: list[int], gens: list[list[Generation]]) -> None:
        batch: dict[str, Generation] = {}
        for i, votes in zip(indices, gens, strict=True):
            key_of = dict(zip(requests[i].votes, keys[i], strict=True))
            batch.update((key_of[v], g) for v, g in zip(todo[i].votes, votes, strict=True))
        if store is not None:
            store.put_many(batch)
        fresh.update(batch)

    if batches:
        prefilled = engine.prompt_tokens
        start = time.perf_counter()
        engine.generate(todo, params, batches=batches, on_batch=keep, desc=desc, progress=progress)
        seconds = max(time.perf_counter() - start, 1e-9)
        tokens = sum(g.n_tokens for g in fresh.values())
        line = (  # the stage's own throughput, to set beside bench/judge_throughput.py's rows
            f"{desc}: generated {tokens} tokens for {len(fresh)} votes in {seconds:.1f}s = "
            f"{tokens / seconds:.1f} tok/s"
        )
        if prefilled is not None:  # how prompt-heavy the work was: a short answer to a long prompt
            prompt = engine.prompt_tokens - prefilled
            line += f"; {prompt} prompt tokens, prompt + generated {(prompt + tokens) / seconds:.1f} tok/s"
        if engine.cpu_threads is not None:  # what to set beside the bench's row at that thread count
            line += f"; CPU threads: {engine.cpu_threads}"
        log_fn(line)
    counts = VoteCounts(total=len(all_keys), cached=len(cached), generated=len(fresh))
    if shard.index != 0:
        return None, counts
    found = {**cached, **fresh}
    needed = set(all_keys)  # two requests with one prompt share their votes' keys
    deadline = time.monotonic() + wait_s
    while not needed.issubset(found):
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"shard 0 waited {wait_s:.0f}s for the other shards: {len(needed - found.keys())} votes are "
                f"still missing from {store.path if store else 'the cache'}; rerun the missing shards"
            )
        time.sleep(1.0)
        found.update(store.get_many(k for k in all_keys if k not in found))  # type: ignore[union-attr]
    return [[found[k] for k in ks] for ks in keys], counts
