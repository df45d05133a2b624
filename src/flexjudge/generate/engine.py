"""What every judging engine shares, torch-free: sampling settings, requests, generations, the batch plan,
the per-vote random stream, the engine base class, and the table of backends (`BACKENDS`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from tqdm.auto import tqdm

from flexjudge.core.io import stable_hash

#: Bumped whenever a change to an engine can change what it generates; part of every cache key.
ENGINE_VERSION = 6


@dataclass(frozen=True)
class SamplingParams:
    """How to sample: temperature 0 means greedy; `n` samples per prompt."""

    max_new_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    n: int = 1
    seed: int = 0
    stop_strings: tuple[str, ...] = field(default_factory=tuple)

    def key(self) -> dict:
        """What identifies these settings in a generation's cache key (`n` is not: votes are keyed one by one)."""
        return {
            "max_new": self.max_new_tokens,
            "t": self.temperature,
            "top_p": self.top_p if self.temperature > 0 else None,
            "seed": self.seed,
            "stop": list(self.stop_strings),
        }

    def of(self, request: Request) -> SamplingParams:
        """These settings with the request's own temperature and top-p where it carries them (a pooled call
        mixes requests of several benchmarks: `Request.sampling`)."""
        if request.sampling is None:
            return self
        temperature, top_p = request.sampling
        return replace(self, temperature=temperature, top_p=top_p)


@dataclass(frozen=True)
class Generation:
    """One vote: its text, generated token count (forced ones included), whether it ended on its own,
    and the think/answer accounting (tokens inside <think>, tokens after it, rounds sent back, whether
    the engine closed the think section; with answer forcing, the answer tags the engine opened and whether
    it ended the vote at the format's tag count)."""

    text: str
    n_tokens: int
    finished: bool
    think_tokens: int | None = None
    answer_tokens: int | None = None
    rounds: int = 0
    forced_close: bool = False
    forced_answers: int = 0
    answer_cut: bool = False


@dataclass(frozen=True)
class Request:
    """One prompt (already chat-templated) and the votes wanted from it; `key` names it stably."""

    prompt: str
    key: str
    votes: tuple[int, ...] = (0,)
    think_open: bool = False  # the prompt ends inside <think>
    media: tuple[dict[str, Any], ...] = ()  # media parts ({"type", "path"}) in placeholder order
    answers: int | None = None  # <answer> tags the format asks for (answer forcing; None: no count)
    sampling: tuple[float, float] | None = (
        None  # its own (temperature, top_p); None: the call's (SamplingParams.of)
    )
    media_settings: Any = None  # its own media sizes (MediaSettings); None: the engine's


def plan_batches(
    lengths: Sequence[int],
    batch_size: int,
    votes: Sequence[int] | None = None,
    *,
    max_rows: int | None = None,
    max_tokens: int | None = None,
    new_tokens: int = 0,
) -> list[list[int]]:
    """Indices longest first (ties by index), cut into batches: at most `batch_size` prompts, at most
    `max_rows` decoding rows (a prompt's row count is its number of votes, `votes[i]`, default 1) and at most
    `max_tokens` cache positions (prompts × the batch's longest prompt, plus rows × `new_tokens`). Budgets,
    not a count, so single-vote work fills a batch the way k votes per prompt do. A prompt over a budget on
    its own still gets a batch (alone)."""
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size}: must be >= 1")
    for name, value in (("max_rows", max_rows), ("max_tokens", max_tokens)):
        if value is not None and value < 1:
            raise ValueError(f"{name}={value}: must be >= 1 (or null: no budget)")
    rows_of = list(votes) if votes is not None else [1] * len(lengths)
    if len(rows_of) != len(lengths):
        raise ValueError(f"{len(rows_of)} vote counts for {len(lengths)} prompts")
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    batch: list[int] = []
    rows = width = 0
    for i in order:
        r = max(1, rows_of[i])
        if batch:
            fits = len(batch) < batch_size
            fits = fits and (max_rows is None or rows + r <= max_rows)
            fits = fits and (
                max_tokens is None or (len(batch) + 1) * width + (rows + r) * new_tokens <= max_tokens
            )
            if not fits:
                batches.append(batch)
                batch, rows = [], 0
        if not batch:
            width = lengths[i]  # longest first: the first member sets the batch's padded width
        batch.append(i)
        rows += r
    if batch:
        batches.append(batch)
    return batches


def vote_seed(seed: int, key: str, vote: int) -> int:
    """The random stream of one vote."""
    return int(stable_hash("vote", seed, key, vote), 16) & (2**63 - 1)


class BatchedEngine:
    """What every engine shares: the batch plan, the progress bar, results in request order and a
    callback after each batch. Subclasses encode prompts and decode one batch (`_run_batch`)."""

    batch_size: int
    #: prompt tokens this engine has prefilled (media tokens included; each prompt whole, however much of it
    #: a shared prefix saved); None for engines that do not count them (vLLM, a server)
    prompt_tokens: int | None = None

    @property
    def cpu_threads(self) -> int | None:
        """CPU threads the engine computes on (None: it does not compute here, or not on the CPU)."""
        return None

    def encode(self, text: str) -> list[int]:
        raise NotImplementedError

    def plan(self, lengths: Sequence[int], votes: Sequence[int], params: SamplingParams) -> list[list[int]]:
        """Which requests run together: `batch_size` prompts per batch (engines with a memory budget
        override this to count decoding rows and cache positions)."""
        return plan_batches(lengths, self.batch_size, votes)

    def _run_batch(
        self, requests: list[Request], encoded: list[list[int]], params: SamplingParams
    ) -> list[list[Generation]]:
        raise NotImplementedError

    def generate(
        self,
        requests: Sequence[Request],
        params: SamplingParams,
        *,
        batches: Sequence[Sequence[int]] | None = None,
        on_batch: Callable[[list[int], list[list[Generation]]], None] | None = None,
        desc: str = "generate",
        progress: bool = True,
    ) -> list[list[Generation] | None]:
        """Generations for each request's votes, in request order.

        `batches` (default: `self.plan` over all requests) lists which requests run together;
        requests in no batch get None. `on_batch(indices, generations)` runs after each batch, e.g. to store it.
        """
        encoded = [self.encode(r.prompt) for r in requests]
        if batches is None:
            batches = self.plan([len(e) for e in encoded], [len(r.votes) for r in requests], params)
        results: list[list[Generation] | None] = [None] * len(requests)
        total = sum(len(requests[i].votes) for b in batches for i in b)
        with tqdm(total=total, desc=desc, unit="vote", disable=not progress, dynamic_ncols=True) as bar:
            for batch in batches:
                gens = self._run_batch([requests[i] for i in batch], [encoded[i] for i in batch], params)
                for i, g in zip(batch, gens, strict=True):
                    results[i] = g
                if on_batch is not None:
                    on_batch(list(batch), gens)
                bar.update(sum(len(requests[i].votes) for i in batch))
        return results


#: The judging backends (conf/backend/<name>.yaml sets `name`) and what each runs on. A JudgeSession drives
#: the two with a model; the simulated judge needs each item's gold, so evaluate drives it itself.
BACKENDS = {
    "hf": "a transformers model in our own decoding loop (generate.hf.Engine): CPU or GPU, text and media",
    "vllm": "a vLLM engine (generate.vllm_backend.VLLMEngine): GPU, text prompts",
    "openai": "any OpenAI-compatible chat endpoint (generate.openai_backend.OpenAIEngine): a served judge or an API",
    "simulated": "no model: set error, position-bias and parse-failure rates (generate.simulated.SimulatedJudge)",
}
MODEL_BACKENDS = ("hf", "vllm", "openai")


def backend_name(backend) -> str:
    """The backend config's name, checked against `BACKENDS`."""
    name = backend.name
    if name not in BACKENDS:
        raise ValueError(f"backend.name={name!r}: choose one of {sorted(BACKENDS)} (conf/backend/)")
    return name
