"""A judging engine over any OpenAI-compatible chat endpoint (vLLM, SGLang, `transformers serve`, a hosted API).

    flexjudge judge pairs.jsonl --backend openai --judge my-judge --base-url http://gpu-node:8000/v1
    python -m flexjudge.evaluate backend=openai backend.model=gpt-4o   # the key from $OPENAI_API_KEY

Each vote is one chat request with n=1 and the vote's own seed (`vote_seed`), so k votes are k requests
(servers differ on `n`; some ignore it). Requests run `concurrency` at a time; the OpenAI client retries
failed ones (rate limits, 5xx, dropped connections) with exponential backoff, `max_retries` times.
Media go as the chat API's content parts: images as `image_url` data URLs, WAV audio as `input_audio`,
a video as its sampled frames (images). The cache, votes and parse accounting are the ones every
backend shares (`generate.session`); a vote's think/answer token split is counted with `tokenizer`
when one is configured, else left unknown.

Opening the answer inside `<think>` (prefill_think) and budget forcing need the server to continue
the judge's own text: `continuation: vllm` sends chat requests with vLLM's `continue_final_message`;
`continuation: completions` renders the chat template here (`tokenizer` must be set) and sends text to
`/v1/completions` (vLLM, SGLang, `transformers serve`; text only, no media). Budget forcing then runs in
rounds, as in `generate.vllm_backend`: exact where the server reports the stop string it hit (vLLM) or
keeps it in the text (`transformers serve`). With `continuation: none` asking for either is an error
that says so.
"""

from __future__ import annotations

import base64
import io
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from flexjudge.generate.budget import Budget
from flexjudge.generate.engine import BatchedEngine, Generation, Request, SamplingParams, vote_seed
from flexjudge.generate.vllm_backend import Segment, VoteState, segment_seed

MISSING_OPENAI = "backend=openai needs the OpenAI client: pip install -e '.[serve]'"
CONTINUATIONS = ("none", "vllm", "completions")


def request_prompt(messages: list[dict[str, Any]], assistant: str) -> str:
    """What an API request's prompt is (its cache key and what the engine sends): the chat messages and
    the assistant text it continues from, as canonical JSON."""
    return json.dumps({"messages": messages, "assistant": assistant}, sort_keys=True, ensure_ascii=False)


def api_content(content: Any, settings: Any) -> Any:
    """Our message content (text, or parts with media {"type", "path"}) as chat API content parts."""
    if isinstance(content, str):
        return content
    from flexjudge.data.media import load_part

    parts: list[dict[str, Any]] = []
    for part in content:
        kind = part["type"]
        if kind == "text":
            parts.append({"type": "text", "text": part["text"]})
            continue
        media = load_part(part, settings, part["path"])
        if kind == "audio":
            parts.append({"type": "input_audio", "input_audio": {"data": _wav_b64(media), "format": "wav"}})
        else:  # an image, or each sampled frame of a video
            frames = media.data if kind == "video" else [media.data]
            parts += [{"type": "image_url", "image_url": {"url": _png_url(f)}} for f in frames]
    return parts


def _png_url(image) -> str:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _wav_b64(media) -> str:
    import numpy as np
    from scipy.io import wavfile

    buf = io.BytesIO()
    wavfile.write(buf, media.rate, (np.clip(media.data, -1, 1) * 32767).astype(np.int16))
    return base64.b64encode(buf.getvalue()).decode("ascii")


class OpenAIEngine(BatchedEngine):
    """Votes through a chat-completions endpoint; the `generate` contract of the HF engine."""

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        budget: Budget | None = None,
        batch_size: int = 64,
        concurrency: int = 8,
        max_retries: int = 5,
        timeout_s: float = 600.0,
        continuation: str = "none",
        tokenizer: Any = None,
        media_settings: Any = None,
        client: Any = None,
    ):
        if continuation not in CONTINUATIONS:
            raise ValueError(f"backend.continuation={continuation!r}: choose one of {CONTINUATIONS}")
        if concurrency < 1 or batch_size < 1:
            raise ValueError("backend.concurrency and backend.batch_size must be >= 1")
        self.model, self.budget = model, budget or Budget()
        self.batch_size, self.concurrency, self.continuation = batch_size, concurrency, continuation
        self.tokenizer, self.media_settings = tokenizer, media_settings
        if self.budget.active and continuation == "none":
            raise NotImplementedError(
                "backend=openai with continuation=none cannot force a thinking budget or the answer's tag "
                "count (it must continue the judge's own message); use budget=none without answer forcing, "
                "or continuation=vllm against a vLLM server"
            )
        if client is None:
            try:
                from openai import OpenAI
            except ImportError as err:
                raise ImportError(MISSING_OPENAI) from err
            key = os.environ.get(api_key_env)
            if key is None and base_url is None:
                raise ValueError(
                    f"backend=openai: the API key is read from ${api_key_env}, which is not set "
                    "(set it, or point backend.base_url at a local server)"
                )
            client = OpenAI(
                base_url=base_url, api_key=key or "unused", max_retries=max_retries, timeout=timeout_s
            )
        self.client = client

    def encode(self, text: str) -> list[int]:
        return []  # the server tokenizes; batches are planned on the session's prompt lengths

    def count(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"]) if self.tokenizer else 0

    def _run_batch(
        self, requests: list[Request], encoded: list[list[int]], params: SamplingParams
    ) -> list[list[Generation]]:
        cap = self.budget.think_cap(params.max_new_tokens)
        jobs = [(r, v) for r, req in enumerate(requests) for v in req.votes]
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            done = list(pool.map(lambda job: self._vote(requests[job[0]], job, params, cap), jobs))
        gens: list[list[Generation]] = [[] for _ in requests]
        for (r, _), gen in zip(jobs, done, strict=True):
            gens[r].append(gen)
        return gens

    def _vote(
        self, request: Request, job: tuple[int, int], params: SamplingParams, cap: int | None
    ) -> Generation:
        if self.continuation == "completions":  # the prompt is rendered text (our chat template)
            messages, prefix = None, request.prompt
        else:
            payload = json.loads(request.prompt)
            messages = [
                {
                    "role": m["role"],
                    "content": api_content(m["content"], request.media_settings or self.media_settings),
                }
                for m in payload["messages"]
            ]
            prefix = payload["assistant"]
        if prefix and self.continuation == "none":
            raise NotImplementedError(
                "backend=openai with continuation=none cannot open the answer inside <think> (it would have "
                "to continue an assistant message); set prefill_think=false (--no-prefill-think), or "
                "continuation=vllm against a vLLM server"
            )
        params = params.of(request)  # a pooled request's own temperature and top-p
        state = VoteState(
            job[0],
            job[1],
            vote_seed(params.seed, request.key, job[1]),
            1 if request.think_open else 0,
            cap,
            answers=request.answers if self.budget.answer_forcing else None,
        )
        while not state.done:
            max_tokens, stop = state.next_call(params)
            seg = self._call(
                messages,
                prefix + state.text,
                params,
                max_tokens,
                stop,
                segment_seed(state.seed, state.segments),
            )
            state.advance(seg, params, self.budget, self.count)
        gen = state.generation(request.think_open, self.count)
        if self.tokenizer is None:  # no tokenizer to split think from answer tokens by
            gen = replace(gen, think_tokens=None, answer_tokens=None)
        return gen

    def _call(
        self, messages, assistant: str, params: SamplingParams, max_tokens: int, stop: list[str], seed: int
    ) -> Segment:
        greedy = params.temperature <= 0
        kwargs: dict[str, Any] = {
            "model": self.model,
            "max_tokens": max_tokens,
            "temperature": 0.0 if greedy else params.temperature,
            "n": 1,
            "seed": seed,
        }
        if not greedy:
            kwargs["top_p"] = params.top_p
        if stop:
            kwargs["stop"] = stop
        if self.continuation == "vllm":  # vLLM's own request fields (strict servers refuse unknown ones)
            kwargs["extra_body"] = {
                "include_stop_str_in_output": True,
                **(
                    {"continue_final_message": True, "add_generation_prompt": False}
                    if assistant and messages is not None
                    else {}
                ),
            }
        if messages is None:  # /v1/completions: the rendered prompt and everything written so far
            response = self.client.completions.create(prompt=assistant, **kwargs)
            text = response.choices[0].text or ""
        else:
            kwargs["messages"] = messages + (
                [{"role": "assistant", "content": assistant}] if assistant else []
            )
            response = self.client.chat.completions.create(**kwargs)
            text = response.choices[0].message.content or ""
        choice = response.choices[0]
        usage = getattr(response, "usage", None)
        n_tokens = (
            usage.completion_tokens if usage is not None and usage.completion_tokens else self.count(text)
        )
        # vLLM names the stop string it hit; other servers that keep it in the text are read from there
        stop_reason = getattr(choice, "stop_reason", None)
        if stop_reason is None and choice.finish_reason == "stop":
            stop_reason = next((s for s in stop if text.endswith(s)), None)
        return Segment(text, n_tokens, choice.finish_reason, stop_reason)
