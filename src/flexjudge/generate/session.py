"""One judging session: load a judge (hf or vLLM), render chat prompts, and get every vote through the
per-vote cache and data-parallel shards. Shared by the evaluate and sample stages."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from flexjudge.generate.budget import Budget
from flexjudge.generate.hf import Engine, Generation, Request, SamplingParams
from flexjudge.generate.runner import Shard, VoteCounts, generate_votes
from flexjudge.generate.store import GenerationStore, vote_key
from flexjudge.io import stable_hash
from flexjudge.judge.pairwise import render_prompt


def media_identity(parts) -> list[tuple[str, int, int]]:
    """What a vote's cache key records of its media: path, size and modification time of each file,
    so an edited or replaced file is judged again."""
    out = []
    for part in parts:
        stat = Path(part["path"]).stat()
        out.append((part["path"], stat.st_size, stat.st_mtime_ns))
    return out


def judge_votes(
    judge_path: str,
    backend: DictConfig,
    messages: Sequence[list[dict[str, Any]]],
    params: SamplingParams,
    *,
    media: Sequence[tuple[dict[str, Any], ...]] | None = None,
    media_settings=None,
    budget: Budget | None = None,
    prefill_think: bool = True,
    cache: str | None = None,
    shard: Shard | None = None,
    wait_s: float = 3600.0,
    desc: str = "judge",
    progress: bool = True,
) -> tuple[list[list[Generation]] | None, dict[str, Any], VoteCounts]:
    """params.n votes per chat (votes 0..n-1 of params.seed): (generations, or None on shards > 0;
    the judge's manifest; vote counts). `media[i]` are chat i's media parts in placeholder order."""
    from flexjudge.backbones.loader import load_judge, load_tokenizer, read_manifest

    budget = budget or Budget()
    media = list(media) if media is not None else [() for _ in messages]
    if backend.name == "vllm":  # vLLM loads the weights itself; here only the tokenizer is needed
        from flexjudge.generate.vllm_backend import VLLMEngine

        if any(media):
            raise NotImplementedError(
                f"{desc}: requests carry media; the vllm backend takes text prompts only so far "
                "(use backend=hf, which packs images, video and audio)"
            )
        manifest = read_manifest(judge_path)
        tokenizer = load_tokenizer(manifest)
        engine = VLLMEngine(
            str(manifest["weights"]),
            budget=budget,
            batch_size=backend.batch_size,
            dtype=backend.dtype,
            tensor_parallel_size=backend.tensor_parallel_size,
            gpu_memory_utilization=backend.gpu_memory_utilization,
            trust_remote_code=bool(manifest.get("trust_remote_code", False)),
            max_model_len=backend.max_model_len,
        )
    else:
        judge = load_judge(judge_path, device=backend.device)
        manifest, tokenizer = judge.manifest, judge.tokenizer
        engine = Engine(
            judge.model,
            tokenizer,
            budget=budget,
            batch_size=backend.batch_size,
            packer=judge.media_packer(media_settings) if any(media) else None,
        )
    prompts = [render_prompt(tokenizer, m, prefill_think) for m in messages]
    votes = tuple(range(params.n))
    requests = [
        Request(p, stable_hash("prompt", p, m), votes, prefill_think, m)
        for p, m in zip(prompts, media, strict=True)
    ]
    store = GenerationStore(cache) if cache else None
    weights = manifest["weights"]
    model_id = (
        store.weights_digest(weights) if store is not None and Path(weights).is_dir() else f"hub:{weights}"
    )
    keys = [
        [
            vote_key(
                backend=backend.name,
                model=model_id,
                prompt=r.prompt,
                media=media_identity(r.media),
                sampling=params.key(),
                budget=budget.key(),
                vote=i,
            )
            for i in r.votes
        ]
        for r in requests
    ]
    lengths = [len(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts]
    try:
        gens, counts = generate_votes(
            engine,
            requests,
            lengths,
            params,
            keys,
            store=store,
            batch_size=backend.batch_size,
            shard=shard or Shard(),
            wait_s=wait_s,
            desc=desc,
            progress=progress,
        )
    finally:
        if store is not None:
            store.close()
    return gens, manifest, counts
