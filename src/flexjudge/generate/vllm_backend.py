"""An optional vLLM judging engine with the interface of `flexjudge.generate.hf.Engine`.

Usage (GPU box only; vllm is imported when an engine is built, never when this module is imported):

    pip install -e '.[vllm]'
    python -m flexjudge.evaluate backend=vllm backbone=qwen2_5_vl_7b budget=wait2 voting=k5
    python -m flexjudge.evaluate backend=vllm backend.tensor_parallel_size=2 \\
        backend.gpu_memory_utilization=0.8 backend.max_model_len=8192

Results, the vote cache and `on_batch` behave as with `backend=hf`; cache keys name the backend, so
votes of the two engines never mix.

Each (request, vote) is one vLLM request with n=1 and its own seed (`vote_seed`), so a vote does not
depend on its batch; prefix caching shares a prompt's prefill between its votes and between rounds.
vLLM cannot edit single tokens mid-decode, so budget forcing (s1-style) runs in rounds: a think segment
stops at </think>; an early close (or EOS) is replaced by the continuation marker and decoding resumes,
and an exhausted think budget gets the forced close, then the answer is decoded. Without a budget a
vote is decoded in one pass and its think/answer split is counted by re-tokenizing the text. Answer
forcing (`Budget.answer_forcing`) decodes the answer a tag at a time (each call stops at </answer>): an
EOS before the format's tag count gets the tag text `held_answer` names, and after the last tag one token
shows whether the judge ends there (else the vote is cut at its last tag).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from flexjudge.core.io import stable_hash
from flexjudge.generate.budget import Budget, held_answer
from flexjudge.generate.engine import BatchedEngine, Generation, Request, SamplingParams, vote_seed
from flexjudge.protocol.parsing import split_think
from flexjudge.protocol.prompts import ANSWER_CLOSE, THINK_CLOSE, THINK_OPEN

MISSING_VLLM = "backend=vllm needs the optional extra: pip install -e '.[vllm]' (GPU only)"


def segment_seed(base: int, segment: int) -> int:
    """Seed of a vote's `segment`-th vLLM call: the vote's own seed first, then one derived per round."""
    if segment == 0:
        return base
    return int(stable_hash("segment", base, segment), 16) & (2**63 - 1)


def free_accounting(
    text: str, n_tokens: int, think_open: bool, count: Callable[[str], int]
) -> tuple[int | None, int | None]:
    """(think_tokens, answer_tokens) of a one-pass vote, by re-tokenizing its think and answer text.

    None where the section was never reached, as in the HF engine.
    """
    start = 0 if think_open else text.find(THINK_OPEN)
    if start < 0:
        return None, None
    start += 0 if think_open else len(THINK_OPEN)
    end = text.find(THINK_CLOSE, start)
    if end < 0:
        return min(count(text[start:]), n_tokens), None
    think = min(count(text[start:end]), n_tokens)
    return think, max(0, n_tokens - count(text[: end + len(THINK_CLOSE)]))


@dataclass(frozen=True)
class Segment:
    """What one vLLM call generated for a vote."""

    text: str
    n_tokens: int
    finish_reason: str | None  # "stop" | "length" | "abort"
    stop_reason: int | str | None  # the stop string or stop token id; None for EOS or length

    @classmethod
    def of(cls, output: Any) -> Segment:
        """From a vLLM CompletionOutput (`RequestOutput.outputs[0]`)."""
        return cls(output.text, len(output.token_ids), output.finish_reason, output.stop_reason)

    @property
    def eos(self) -> bool:
        """Ended on an end-of-sequence token (vLLM: stop with no stop string)."""
        return self.finish_reason == "stop" and not isinstance(self.stop_reason, str)


@dataclass
class VoteState:
    """One vote decoded in rounds; `next_call` says what to ask vLLM for, `advance` applies its answer.

    Pure text and token accounting (no vLLM), so budget forcing can be tested with a fake model.
    `think` is 0 before <think>, 1 inside, 2 after; `cap` is the think cap (None: no budget, one pass).
    """

    request: int
    vote: int
    seed: int
    think: int
    cap: int | None
    text: str = ""
    n_tokens: int = 0
    think_tokens: int = 0
    answer_start: int = 0  # n_tokens when the answer part began
    rounds: int = 0
    forced_close: bool = False
    answers: int | None = None  # answer tags to hold the vote to (answer forcing), None: no count
    forced_answers: int = 0
    answer_cut: bool = False
    peek: bool = False  # the wanted tags are all closed: one token shows whether the judge ends
    segments: int = 0
    done: bool = False
    finished: bool = False

    def next_call(self, params: SamplingParams) -> tuple[int, list[str]]:
        """(max_tokens, stop strings) of the next vLLM call."""
        left = params.max_new_tokens - self.n_tokens
        stops = list(params.stop_strings)
        if self.think == 2 and self.answers is not None:
            return (min(1, left), stops) if self.peek else (left, list(dict.fromkeys([ANSWER_CLOSE, *stops])))
        if self.cap is None or self.think == 2:
            return left, stops
        if self.think == 0:
            return left, list(dict.fromkeys([THINK_OPEN, *stops]))
        return min(self.cap - self.think_tokens, left), list(dict.fromkeys([THINK_CLOSE, *stops]))

    def advance(
        self, seg: Segment, params: SamplingParams, budget: Budget, count: Callable[[str], int]
    ) -> None:
        """Apply one call's output, then any forcing it calls for; `count` tokenizes forced text."""
        self.segments += 1
        self.text += seg.text
        self.n_tokens += seg.n_tokens
        if self.think == 2 and self.answers is not None:
            self._hold(seg, count)
        elif self.cap is None or self.think != 1:
            if self.cap is not None and self.think == 0 and seg.stop_reason == THINK_OPEN:
                self.think = 1
            else:
                self._end(seg.finish_reason == "stop")
        elif seg.stop_reason == THINK_CLOSE:
            close = min(count(THINK_CLOSE), seg.n_tokens)
            self.think_tokens += seg.n_tokens - close
            if self.rounds < budget.min_think_rounds:  # closed too early: take the close back
                self.text = self.text[: -len(THINK_CLOSE)]
                self.n_tokens -= close
                self._continue(budget, count)
            else:
                self.think, self.answer_start = 2, self.n_tokens
        elif isinstance(seg.stop_reason, str):  # one of params.stop_strings
            self.think_tokens += seg.n_tokens
            self._end(True)
        elif seg.eos:  # the EOS token is replaced by forced text
            self.n_tokens -= 1
            self.think_tokens += seg.n_tokens - 1
            if self.rounds < budget.min_think_rounds:
                self._continue(budget, count)
            else:
                self._close(budget, count)
        else:
            self.think_tokens += seg.n_tokens
            if seg.finish_reason != "length" or self.think_tokens < self.cap:
                self._end(False)  # out of max_new_tokens, or aborted
        if not self.done and self.think == 1 and self.think_tokens >= self.cap:
            self._close(budget, count)
        if not self.done and self.n_tokens >= params.max_new_tokens:
            self._end(False)

    def _hold(self, seg: Segment, count: Callable[[str], int]) -> None:
        """Answer forcing on one answer segment (module docstring)."""
        if self.peek:  # the token after the last wanted tag
            if not seg.eos:  # the judge goes on: its token is dropped and the end counted in its place
                self.text = self.text[: len(self.text) - len(seg.text)]
                self.n_tokens -= seg.n_tokens - 1
                self.answer_cut = True
            self._end(True)
        elif seg.stop_reason == ANSWER_CLOSE:
            _, answer, _ = split_think(self.text)
            self.peek = held_answer(answer, self.answers, False) == ""  # type: ignore[arg-type]
        elif seg.eos:
            _, answer, _ = split_think(self.text)
            move = held_answer(answer, self.answers, True)  # type: ignore[arg-type]
            if not move or self.forced_answers > self.answers:  # type: ignore[operator]
                self._end(True)
                return
            self.n_tokens -= 1  # the EOS token is replaced by the tag text
            self.forced_answers += 1
            self.text += move
            self.n_tokens += count(move)
            self.peek = held_answer(split_think(self.text)[1], self.answers, False) == ""  # type: ignore[arg-type]
        else:
            self._end(seg.finish_reason == "stop")

    def _continue(self, budget: Budget, count: Callable[[str], int]) -> None:
        self.rounds += 1
        self.text += budget.forced_continuation
        forced = count(budget.forced_continuation)
        self.n_tokens += forced
        self.think_tokens += forced

    def _close(self, budget: Budget, count: Callable[[str], int]) -> None:
        self.think, self.answer_start, self.forced_close = 2, self.n_tokens, True
        self.text += budget.forced_close
        self.n_tokens += count(budget.forced_close)

    def _end(self, finished: bool) -> None:
        self.done, self.finished = True, finished

    def generation(self, think_open: bool, count: Callable[[str], int]) -> Generation:
        """The finished vote."""
        if self.cap is None:
            think, answer = free_accounting(self.text, self.n_tokens, think_open, count)
        else:
            think = self.think_tokens if self.think >= 1 else None
            answer = self.n_tokens - self.answer_start if self.think == 2 else None
        return Generation(
            text=self.text,
            n_tokens=self.n_tokens,
            finished=self.finished,
            think_tokens=think,
            answer_tokens=answer,
            rounds=self.rounds,
            forced_close=self.forced_close,
            forced_answers=self.forced_answers,
            answer_cut=self.answer_cut,
        )


def _vllm_sampling_params() -> Callable[..., Any]:
    try:
        from vllm import SamplingParams as VSamplingParams
    except ImportError:
        return SimpleNamespace
    return VSamplingParams


class VLLMEngine(BatchedEngine):
    """Batched judging with vLLM; same `generate` contract as the HF `Engine`. See the module docstring."""

    def __init__(
        self,
        model_path: str,
        *,
        budget: Budget | None = None,
        batch_size: int = 256,
        dtype: str = "auto",
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.9,
        trust_remote_code: bool = False,
        max_model_len: int | None = None,
    ):
        try:
            import vllm
        except ImportError as err:
            raise ImportError(MISSING_VLLM) from err
        llm = vllm.LLM(
            model=model_path,
            dtype=dtype,
            tensor_parallel_size=tensor_parallel_size,
            gpu_memory_utilization=gpu_memory_utilization,
            trust_remote_code=trust_remote_code,
            max_model_len=max_model_len,
            enable_prefix_caching=True,
        )
        self._setup(llm, llm.get_tokenizer(), budget, batch_size, vllm.SamplingParams)

    @classmethod
    def from_llm(
        cls,
        llm: Any,
        tokenizer: Any,
        *,
        budget: Budget | None = None,
        batch_size: int = 256,
        sampling_params: Callable[..., Any] | None = None,
    ) -> VLLMEngine:
        """An engine around an existing `llm` (anything with vLLM's `generate`), e.g. a fake in tests.

        `tokenizer` encodes prompts and counts forced tokens; `sampling_params` builds each call's
        settings (default: vllm.SamplingParams when vllm is installed, else a SimpleNamespace).
        """
        engine = cls.__new__(cls)
        engine._setup(llm, tokenizer, budget, batch_size, sampling_params or _vllm_sampling_params())
        return engine

    def _setup(
        self, llm: Any, tokenizer: Any, budget: Budget | None, batch_size: int, sampling: Callable[..., Any]
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size}: must be >= 1")
        self.llm, self.tokenizer, self.sampling = llm, tokenizer, sampling
        self.budget = budget or Budget()
        self.batch_size = batch_size

    def encode(self, text: str) -> list[int]:
        """Token ids of `text` with no special tokens added (chat templates place their own)."""
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def count(self, text: str) -> int:
        """Tokens in `text` (forced text, re-tokenized sections)."""
        return len(self.encode(text))

    def _run_batch(
        self, requests: list[Request], encoded: list[list[int]], params: SamplingParams
    ) -> list[list[Generation]]:
        cap = self.budget.think_cap(params.max_new_tokens)
        votes = [
            VoteState(
                r,
                v,
                vote_seed(params.seed, req.key, v),
                1 if req.think_open else 0,
                cap,
                answers=req.answers if self.budget.answer_forcing else None,
            )
            for r, req in enumerate(requests)
            for v in req.votes
        ]
        while live := [v for v in votes if not v.done]:
            prompts, settings = [], []
            for vote in live:
                max_tokens, stop = vote.next_call(params)
                prompts.append({"prompt_token_ids": encoded[vote.request] + self.encode(vote.text)})
                settings.append(self._settings(params.of(requests[vote.request]), vote, max_tokens, stop))
            outputs = self.llm.generate(prompts, settings, use_tqdm=False)
            for vote, out in zip(live, outputs, strict=True):
                vote.advance(Segment.of(out.outputs[0]), params, self.budget, self.count)
        gens: list[list[Generation]] = [[] for _ in requests]
        for vote in votes:
            gens[vote.request].append(vote.generation(requests[vote.request].think_open, self.count))
        return gens

    def _settings(self, params: SamplingParams, vote: VoteState, max_tokens: int, stop: list[str]) -> Any:
        """vLLM SamplingParams of one call: n=1, the vote's seed, greedy at temperature 0."""
        greedy = params.temperature <= 0
        return self.sampling(
            n=1,
            temperature=0.0 if greedy else params.temperature,
            top_p=1.0 if greedy else params.top_p,
            seed=None if greedy else segment_seed(vote.seed, vote.segments),
            max_tokens=max_tokens,
            stop=stop,
            include_stop_str_in_output=True,
        )
