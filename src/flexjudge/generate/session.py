"""One judging session: load a judge (hf or vLLM) once, render chat prompts, and get every vote through
the per-vote cache and data-parallel shards. Shared by the evaluate and sample stages: a stage that judges
several benchmarks (or seeds, or passes) keeps one session, so the weights are loaded once."""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from flexjudge.backbones.inputs import MediaSettings
from flexjudge.core.io import sha256_file, stable_hash
from flexjudge.generate.budget import Budget
from flexjudge.generate.engine import MODEL_BACKENDS, Generation, Request, SamplingParams, backend_name
from flexjudge.generate.hf import Engine
from flexjudge.generate.openai_backend import request_prompt
from flexjudge.generate.runner import Shard, VoteCounts, generate_votes
from flexjudge.generate.store import GenerationStore, vote_key
from flexjudge.protocol.prompts import THINK_PREFILL, render_prompt


def media_identity(parts) -> list[tuple]:
    """What a vote's cache key records of its media: path, size and modification time of each file,
    so an edited or replaced file is judged again. A molecule part has no file: its SMILES is its identity."""
    out = []
    for part in parts:
        if part["type"] == "molecule":
            out.append(("molecule", part["smiles"]))
            continue
        stat = Path(part["path"]).stat()
        out.append((part["path"], stat.st_size, stat.st_mtime_ns))
    return out


def media_key(parts, settings=None) -> Any:
    """What a vote's cache key records of its media: each file's identity (`media_identity`) and the sizes
    and rates the media are prepared at (`MediaSettings`), so the same image judged at another resolution
    is judged again. Nothing for a text-only request (its keys do not depend on media settings)."""
    if not parts:
        return []
    prepared = asdict(settings or MediaSettings())
    if not any(part["type"] == "molecule" for part in parts):
        prepared.pop("conformer_seed")  # images, video and audio do not depend on it (keys stay as they were)
    return {"files": media_identity(parts), "settings": prepared}


def media_content(parts) -> list[dict[str, Any]]:
    """Each media part with its path replaced by the sha256 of its bytes (of every file, by name, for a
    folder of video frames): what seeds a vote, so the same item draws the same votes wherever the
    checkout lies. A molecule part is its SMILES already."""
    out = []
    for part in parts:
        if part["type"] == "molecule":
            out.append(dict(part))
            continue
        path = Path(part["path"])
        if path.is_dir():
            digest = stable_hash(*[(f.name, _file_digest(f)) for f in sorted(path.iterdir()) if f.is_file()])
        else:
            digest = _file_digest(path)
        out.append({**part, "path": digest})
    return out


def _file_digest(path: Path) -> str:
    """sha256 of a file, read once per process while its size and mtime stay the same (a group asks for
    the same media twice: its pooled votes, then each evaluation)."""
    stat = path.stat()
    return _digest_of(str(path), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=65536)
def _digest_of(path: str, size: int, mtime_ns: int) -> str:
    return sha256_file(path)


class JudgeSession:
    """A judge loaded once (on first use) for any number of `votes` calls."""

    def __init__(self, judge_path: str, backend: DictConfig):
        if backend_name(backend) not in MODEL_BACKENDS:
            raise ValueError(
                f"backend {backend.name!r} has no model to load; a session takes {MODEL_BACKENDS}"
            )
        self.judge_path = str(judge_path)
        self.backend = backend
        self._judge = None  # hf: the loaded model, tokenizer and processors
        self._vllm: dict[Any, Any] = {}  # vLLM engines by budget (the budget is fixed per engine)
        self._manifest: dict[str, Any] | None = None
        self._tokenizer = None
        self.loads = 0  # how many times weights were loaded (tests check it stays 1)

    @property
    def dtype(self) -> str | None:
        """A dtype that overrides the manifest's (backend.dtype; None: the manifest's)."""
        return self.backend.get("dtype") if self.backend.name == "hf" else None

    def _load(self) -> None:
        from flexjudge.backbones.loader import load_judge, load_tokenizer, read_manifest

        if self._manifest is not None:
            return
        if self.backend.name == "openai":  # the server holds the weights; a tokenizer only to count tokens
            if not self.backend.get("model"):
                raise ValueError("backend=openai: set backend.model to the served model's name")
            self._manifest = {"weights": None, "backbone": self.backend.model, "variant": "served"}
            if self.backend.get("tokenizer"):
                self._tokenizer = load_tokenizer({"weights": self.backend.tokenizer})
            elif self.backend.continuation == "completions":
                raise ValueError(
                    "backend=openai with continuation=completions renders the chat template here: set "
                    "backend.tokenizer to the served model's folder or hub id"
                )
            return
        if self.backend.name == "vllm":  # vLLM loads the weights itself; here only the tokenizer
            self._manifest = read_manifest(self.judge_path)
            self._tokenizer = load_tokenizer(self._manifest)
            return
        self._judge = load_judge(self.judge_path, device=self.backend.device, dtype=self.dtype)
        self._manifest, self._tokenizer = self._judge.manifest, self._judge.tokenizer
        self.loads += 1

    def loaded_dtype(self) -> str | None:
        """The dtype the weights run in where it is not the manifest's (backend.dtype, or float32 for a bf16
        checkpoint on a CPU without bf16 units); None where it is the manifest's, and for backends that load
        the weights themselves."""
        if self.backend.name != "hf":
            return None
        self._load()
        loaded = str(next(self._judge.model.parameters()).dtype).removeprefix("torch.")
        return None if loaded == self._manifest["dtype"] else loaded

    @property
    def manifest(self) -> dict[str, Any]:
        self._load()
        return self._manifest  # type: ignore[return-value]

    def _engine(self, budget: Budget, media_settings, has_media: bool, desc: str):
        backend = self.backend
        if backend.name == "openai":
            from flexjudge.generate.openai_backend import OpenAIEngine

            if has_media and backend.continuation == "completions":
                raise NotImplementedError(
                    f"{desc}: requests carry media, which /v1/completions cannot take; use "
                    "backend.continuation=none or vllm (chat requests with image and audio parts)"
                )

            return OpenAIEngine(
                backend.model,
                base_url=backend.base_url or os.environ.get("OPENAI_BASE_URL"),
                api_key_env=backend.api_key_env,
                budget=budget,
                batch_size=backend.batch_size,
                concurrency=backend.concurrency,
                max_retries=backend.max_retries,
                timeout_s=backend.timeout_s,
                continuation=backend.continuation,
                tokenizer=self._tokenizer,
                media_settings=media_settings or MediaSettings(),
            )
        if backend.name == "vllm":
            if has_media:
                raise NotImplementedError(
                    f"{desc}: requests carry media; the vllm backend takes text prompts only so far "
                    "(use backend=hf, which packs images, video and audio)"
                )
            if budget not in self._vllm:
                from flexjudge.generate.vllm_backend import VLLMEngine

                self._vllm[budget] = VLLMEngine(
                    str(self.manifest["weights"]),
                    budget=budget,
                    batch_size=backend.batch_size,
                    dtype=backend.dtype,
                    tensor_parallel_size=backend.tensor_parallel_size,
                    gpu_memory_utilization=backend.gpu_memory_utilization,
                    trust_remote_code=bool(self.manifest.get("trust_remote_code", False)),
                    max_model_len=backend.max_model_len,
                )
                self.loads += 1
            return self._vllm[budget]
        judge = self._judge
        return Engine(
            judge.model,
            judge.tokenizer,
            budget=budget,
            batch_size=backend.batch_size,
            batch_rows=backend.batch_rows,
            batch_tokens=backend.batch_tokens,
            prefill_tokens=backend.prefill_tokens,
            packer=judge.media_packer(media_settings) if has_media else None,
        )

    def votes(
        self,
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
        prefixes: Sequence[str] | None = None,
        answers: Sequence[int | None] | None = None,
        sampling: Sequence[tuple[float, float]] | None = None,
        votes: Sequence[int] | None = None,
    ) -> tuple[list[list[Generation]] | None, dict[str, Any], VoteCounts]:
        """params.n votes per chat (votes 0..n-1 of params.seed): (generations, or None on shards > 0;
        the judge's manifest; vote counts). `media[i]` are chat i's media parts in placeholder order;
        `prefixes[i]`, if given, is assistant text written after the opening and continued from;
        `answers[i]` the answer tags chat i's format asks for (what `budget.answer_forcing` holds it to).

        One call can pool chats of several benchmarks: `sampling[i]` is chat i's own (temperature, top_p),
        `votes[i]` its own vote count (instead of params.n) and `media_settings` a list of each chat's
        media sizes. Each vote's key is the one a call with only that chat's settings computes."""
        budget = budget or Budget()
        if budget.answer_forcing and answers is None:
            raise ValueError(
                f"{desc}: the budget has answer_forcing on, which needs each chat's <answer> tag count; "
                "only evaluate and `flexjudge judge` pass it: use a budget without answer_forcing here"
            )
        per_chat = isinstance(media_settings, list | tuple)
        for name, given in (
            ("media", media),
            ("prefixes", prefixes),
            ("answers", answers),
            ("sampling", sampling),
            ("votes", votes),
            ("media_settings", media_settings if per_chat else None),
        ):
            if given is not None and len(given) != len(messages):
                raise ValueError(f"{desc}: {len(given)} {name} for {len(messages)} chats (one per chat)")
        answers = list(answers) if answers is not None else [None for _ in messages]
        media = list(media) if media is not None else [() for _ in messages]
        prefixes = list(prefixes) if prefixes is not None else ["" for _ in messages]
        settings = list(media_settings) if per_chat else [media_settings for _ in messages]
        own = list(sampling) if sampling is not None else [None for _ in messages]
        counts = list(votes) if votes is not None else [params.n for _ in messages]
        self._load()
        first = next((st for st, m in zip(settings, media, strict=True) if m), None)
        engine = self._engine(budget, first, any(media), desc)
        tokenizer, manifest = self._tokenizer, self.manifest
        if (
            self.backend.name == "openai" and self.backend.continuation != "completions"
        ):  # the server templates
            opening = THINK_PREFILL if prefill_think else ""
            prompts = [request_prompt(m, opening + p) for m, p in zip(messages, prefixes, strict=True)]
        else:
            prompts = [
                render_prompt(tokenizer, m, prefill_think) + prefix
                for m, prefix in zip(messages, prefixes, strict=True)
            ]
        requests = [
            Request(
                p,
                stable_hash("prompt", p, media_content(m)),
                tuple(range(k)),
                prefill_think,
                m,
                n,
                sampling=tuple(t) if t is not None else None,  # as given: its key must equal its own call's
                media_settings=st,
            )
            for p, m, n, t, st, k in zip(prompts, media, answers, own, settings, counts, strict=True)
        ]
        store = GenerationStore(cache) if cache else None
        weights = manifest["weights"]
        if self.backend.name == "openai":  # what the server calls the model, at its address
            model_id = (
                f"openai:{self.backend.base_url or os.environ.get('OPENAI_BASE_URL')}:{self.backend.model}"
            )
        elif store is not None and Path(weights).is_dir():
            model_id = store.weights_digest(weights)
        else:
            model_id = f"hub:{weights}"
        loaded = self.loaded_dtype()
        if loaded:  # the same weights in another dtype give other votes
            model_id = f"{model_id}@{loaded}"
        keys = [
            [
                vote_key(
                    backend=self.backend.name,
                    model=model_id,
                    prompt=r.prompt,
                    media=media_key(r.media, r.media_settings),
                    sampling=params.of(r).key(),
                    budget={**budget.key(), "answers": r.answers} if budget.answer_forcing else budget.key(),
                    vote=i,
                )
                for i in r.votes
            ]
            for r in requests
        ]
        lengths = (
            [len(p) for p in prompts]  # characters: the server tokenizes (lengths only plan the batches)
            if self.backend.name == "openai" and tokenizer is None
            else [len(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts]
        )
        try:
            gens, counts = generate_votes(
                engine,
                requests,
                lengths,
                params,
                keys,
                store=store,
                shard=shard or Shard(),
                wait_s=wait_s,
                desc=desc,
                progress=progress,
            )
        finally:
            if store is not None:
                store.close()
        return gens, manifest, counts


def judge_votes(judge_path: str, backend: DictConfig, messages, params: SamplingParams, **kw):
    """One-off `JudgeSession(judge_path, backend).votes(messages, params, **kw)`."""
    return JudgeSession(judge_path, backend).votes(messages, params, **kw)
