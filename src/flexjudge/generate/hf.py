"""The transformers judging engine: one prefill per prompt, k votes decoded together, budget forcing.

A batch of prompts is left-padded and prefilled once into a preallocated KV cache; each prompt's
cache rows are then repeated once per wanted vote, so k votes never re-encode the prompt. The tokens all
prompts of a text batch begin with (a judge format's instructions: half of a pairwise prompt) are
prefilled once for the batch, and each prompt's own part after them, so k = 1 work does not pay for the
instructions once per prompt. Decoding is
our own loop (one forward per step for all live rows), which is what lets budget forcing act on single
tokens: forced text is fed token by token, and tokens taken back (an early </think>) are masked out of
attention with positions rolled back, so the model sees exactly the edited text.

Sampling is per vote: each (seed, request key, vote index) owns a random stream, so a vote does not
depend on which other prompts share its batch. Batches are planned over all prompts (longest first),
so a rerun or a shard recomputes any batch with the same members it had in a full run.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from flexjudge.backbones import cascade
from flexjudge.backbones.attention import ATTENTION
from flexjudge.backbones.cascade import CascadeCache
from flexjudge.backbones.inputs import media_inputs
from flexjudge.backbones.kvcache import PreallocatedCache
from flexjudge.core.io import stable_hash
from flexjudge.generate.budget import Budget, held_answer
from flexjudge.generate.engine import (
    BatchedEngine,
    Generation,
    Request,
    SamplingParams,
    plan_batches,
    vote_seed,
)
from flexjudge.protocol.parsing import split_think
from flexjudge.protocol.prompts import THINK_CLOSE, THINK_OPEN

if TYPE_CHECKING:
    from flexjudge.backbones.inputs import MediaPacker, Packed

#: The shortest common prefix worth a prefill call of its own.
MIN_SHARED_PREFIX = 16

#: Tokens re-read at the end of a vote to spot a tag or stop string that spans several tokens.
TAIL_TOKENS = 8


def shared_prefix(encoded: Sequence[Sequence[int]]) -> int:
    """How many leading tokens every prompt of a batch shares, when worth prefilling once: at least
    MIN_SHARED_PREFIX, at least two prompts, and always short of the shortest prompt (each prompt's own
    last token gives its first logits). 0 means prefill every prompt whole."""
    if len(encoded) < 2:
        return 0
    shortest = min(len(e) for e in encoded)
    first = encoded[0]
    n = 0
    while n < shortest - 1 and all(e[n] == first[n] for e in encoded):
        n += 1
    return n if n >= MIN_SHARED_PREFIX else 0


def prefill_chunks(lengths: Sequence[int], budget: int | None) -> list[tuple[int, int]]:
    """Row ranges [r0, r1) of a batch to prefill together: rows in order while rows × the longest of them
    stay within `budget` positions (a row longer than the budget goes alone; None: one chunk)."""
    if budget is None:
        return [(0, len(lengths))] if lengths else []
    chunks, r0, longest = [], 0, 0
    for r, n in enumerate(lengths):
        if r > r0 and (r - r0 + 1) * max(longest, n) > budget:
            chunks.append((r0, r))
            r0, longest = r, 0
        longest = max(longest, n)
    if lengths:
        chunks.append((r0, len(lengths)))
    return chunks


def sample_tokens(
    logits: torch.Tensor, temperature: float, top_p: float, uniforms: torch.Tensor | None
) -> torch.Tensor:
    """One token per row: argmax at temperature 0, else nucleus sampling by inverse CDF on `uniforms`.

    The nucleus is the smallest set of most likely tokens whose mass reaches `top_p` (the token that
    crosses it included). It is looked for in the top 64 first and only rows that need more are sorted in full.
    """
    if temperature <= 0:
        return logits.argmax(-1)
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    uniforms = uniforms.to(probs.device)
    if top_p >= 1.0:
        cdf = probs.cumsum(-1)
        choice = torch.searchsorted(cdf, (uniforms * cdf[:, -1]).unsqueeze(-1)).squeeze(-1)
        return choice.clamp_(max=probs.shape[-1] - 1)
    top, idx = probs.topk(min(64, probs.shape[-1]), dim=-1)
    wide = top.sum(-1) < top_p  # rows whose nucleus reaches beyond the top 64
    narrow_rows, wide_rows = (~wide).nonzero().flatten(), wide.nonzero().flatten()
    chosen = torch.empty(probs.shape[0], dtype=torch.long, device=probs.device)
    for rows, (p, i) in (
        (narrow_rows, (top[narrow_rows], idx[narrow_rows])),
        (wide_rows, probs[wide_rows].sort(dim=-1, descending=True)),
    ):
        if len(rows) == 0:
            continue
        cdf = (p * ((p.cumsum(-1) - p) < top_p)).cumsum(-1)
        pick = torch.searchsorted(cdf, (uniforms[rows] * cdf[:, -1]).unsqueeze(-1))
        chosen[rows] = i.gather(-1, pick.clamp_(max=p.shape[-1] - 1)).squeeze(-1)
    return chosen


def sample_rows(
    logits: torch.Tensor, settings: Sequence[tuple[float, float]], uniforms: torch.Tensor
) -> torch.Tensor:
    """`sample_tokens` with each row's own (temperature, top_p): rows of equal settings are sampled together,
    so a row draws the same token as in a batch where every row has its settings. `uniforms` has one
    value per row (greedy rows ignore theirs)."""
    groups: dict[tuple[float, float], list[int]] = {}
    for row, setting in enumerate(settings):
        groups.setdefault(setting, []).append(row)
    if len(groups) == 1:
        ((temperature, top_p),) = groups
        return sample_tokens(logits, temperature, top_p, uniforms)
    chosen = torch.empty(logits.shape[0], dtype=torch.long, device=logits.device)
    for (temperature, top_p), rows in groups.items():
        index = torch.tensor(rows)  # uniforms live on the CPU, logits where the model is
        on_device = index.to(logits.device)
        chosen[on_device] = sample_tokens(logits[on_device], temperature, top_p, uniforms[index])
    return chosen


@dataclass
class _Vote:
    """Decoding state of one vote (one cache row)."""

    request: int
    vote: int
    rng: torch.Generator | None  # None for a greedy vote
    sampling: tuple[float, float]  # its request's (temperature, top_p)
    think: int  # 0 before <think>, 1 inside, 2 after
    ids: list[int] = field(default_factory=list)
    cols: list[int | None] = field(default_factory=list)  # cache column each id was fed at
    forced: deque = field(default_factory=deque)
    think_start: int = 0  # index in ids where the answer part starts (after the think section)
    think_count: int = 0
    think_tokens: int | None = None
    rounds: int = 0
    forced_close: bool = False
    answers: int | None = None  # answer tags to hold the vote to (answer forcing), None: no count
    forced_answers: int = 0
    answer_cut: bool = False
    done: bool = False
    finished: bool = False


class Engine(BatchedEngine):
    """Batched judging with a model and tokenizer from transformers; see the module docstring."""

    def __init__(
        self,
        model,
        tokenizer,
        *,
        budget: Budget | None = None,
        batch_size: int = 16,
        batch_rows: int | None = None,
        batch_tokens: int | None = None,
        packer: MediaPacker | None = None,
        prefill_tokens: int | None = 2048,
    ):
        """A batch holds at most `batch_size` prompts, `batch_rows` decoding rows (prompts × their votes) and
        `batch_tokens` cache positions (`plan`); None leaves that budget off. Prompts are prefilled
        `prefill_tokens` padded positions per forward (None: a batch at once). `packer` turns requests with
        media into model inputs (`Judge.media_packer`); without one, a request with media is an error."""
        if tokenizer.pad_token_id is None:
            raise ValueError("tokenizer has no pad token; set one in the checkpoint's tokenizer config")
        self.model, self.tokenizer = model, tokenizer
        self.budget = budget or Budget()
        self.batch_size, self.batch_rows, self.batch_tokens = batch_size, batch_rows, batch_tokens
        if prefill_tokens is not None and prefill_tokens < 1:
            raise ValueError(f"prefill_tokens={prefill_tokens}: must be >= 1 (or null: a batch per forward)")
        self.prefill_tokens = prefill_tokens
        eos = model.generation_config.eos_token_id
        eos = tokenizer.eos_token_id if eos is None else eos
        eos = eos if isinstance(eos, list) else [eos]
        self.end_id = eos[0]  # what answer forcing feeds to end a vote
        self.eos_ids = set(eos) | {tokenizer.pad_token_id}
        self.pad_id = tokenizer.pad_token_id
        self.packer = packer
        self.prompt_tokens = 0
        model.set_attn_implementation(ATTENTION)  # SDPA everywhere except our decoding steps

    def encode(self, text: str) -> list[int]:
        """Token ids of `text` with no special tokens added (chat templates place their own)."""
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    @property
    def cpu_threads(self) -> int | None:
        """torch's CPU threads, where the model is on the CPU (what `threads=` pins)."""
        return torch.get_num_threads() if self.model.device.type == "cpu" else None

    def plan(self, lengths: Sequence[int], votes: Sequence[int], params: SamplingParams) -> list[list[int]]:
        """Batches to the row and cache budgets: the decode step's cost grows with its rows, so k = 1 work
        packs k times the prompts that k-vote work does; a row's cache room is its budgeted new tokens."""
        return plan_batches(
            lengths,
            self.batch_size,
            votes,
            max_rows=self.batch_rows,
            max_tokens=self.batch_tokens,
            new_tokens=self._capacity(params),
        )

    def _capacity(self, params: SamplingParams) -> int:
        """Cache columns a vote may write: its new tokens plus the forced tails budget forcing can add."""
        return params.max_new_tokens + TAIL_TOKENS * (self.budget.min_think_rounds + 1) + 32

    @torch.inference_mode()
    def _run_batch(
        self, requests: list[Request], encoded: list[list[int]], params: SamplingParams
    ) -> list[list[Generation]]:
        model, device = self.model, self.model.device
        packed = self._pack_media(requests, encoded)
        encoded = [p.input_ids if p is not None else e for p, e in zip(packed, encoded, strict=True)]
        self.prompt_tokens += sum(len(e) for e in encoded)
        # text-only batches prefill the prefix all their prompts share (the judge's instructions) once
        shared = 0 if any(p is not None for p in packed) else shared_prefix(encoded)
        width = max(len(e) for e in encoded)
        capacity = self._capacity(params)
        ids = torch.full((len(encoded), width - shared), self.pad_id, dtype=torch.long)
        prompt_mask = torch.zeros((len(encoded), width), dtype=torch.long)
        prompt_mask[:, :shared] = 1
        for r, e in enumerate(encoded):
            ids[r, width - len(e) :] = torch.tensor(e[shared:], dtype=torch.long)
            prompt_mask[r, width - len(e) + shared :] = 1
        positions = (prompt_mask.cumsum(-1) - 1).clamp_(min=0)
        rope = None
        if any(p is not None and p.positions is not None for p in packed):  # M-RoPE models: 3-D positions
            rope = positions.unsqueeze(0).repeat(3, 1, 1)
            for r, p in enumerate(packed):
                if p is not None:
                    rope[:, r, width - len(p.input_ids) :] = p.positions
            positions = rope[0]  # the last prompt token is text: its three axes agree
        prefix = None
        if shared:
            prefix = PreallocatedCache(model.config, width)
            model(
                input_ids=torch.tensor([encoded[0][:shared]], dtype=torch.long, device=device),
                position_ids=positions[:1, :shared].to(device),
                past_key_values=prefix,
                use_cache=True,
                logits_to_keep=1,
            )
        # the prompts' own parts in chunks of about `prefill_tokens` positions, each padded to its own
        # longest: one forward over a whole batch of long prompts ran at half the rate of smaller ones
        # (its activations outgrow the CPU's caches), and the batch's padding is not computed
        own = width - shared
        prompt_kv: list[tuple[torch.Tensor, torch.Tensor]] | None = None
        last = []
        for r0, r1 in prefill_chunks([len(e) - shared for e in encoded], self.prefill_tokens):
            cw = max(len(e) for e in encoded[r0:r1]) - shared
            inputs: dict[str, Any] = {
                "position_ids": rope[:, r0:r1, -cw:] if rope is not None else positions[r0:r1, -cw:]
            }
            inputs.update(media_inputs([p.media for p in packed[r0:r1] if p is not None]))
            part = prefix.repeated(r1 - r0) if prefix is not None else PreallocatedCache(model.config, cw)
            mask = torch.cat([prompt_mask[r0:r1, :shared], prompt_mask[r0:r1, -cw:]], dim=1)
            out = model(
                input_ids=ids[r0:r1, -cw:].to(device),
                attention_mask=mask.to(device),
                past_key_values=part,
                use_cache=True,
                logits_to_keep=1,
                **{k: v.to(device) for k, v in inputs.items()},
            )
            last.append(out.logits[:, -1])
            if prompt_kv is None:  # (prompts, kv heads, own width, dim) per layer, right-aligned
                prompt_kv = [
                    tuple(
                        t.new_zeros((len(encoded), t.shape[1], own, t.shape[-1]))
                        for t in (lay.keys, lay.values)
                    )
                    for lay in part.layers
                ]
            for (keys, values), lay in zip(prompt_kv, part.layers, strict=True):
                keys[r0:r1, :, own - cw :] = lay.keys[:, :, shared : shared + cw]
                values[r0:r1, :, own - cw :] = lay.values[:, :, shared : shared + cw]
            del part
        prefix_kv = (
            [(lay.keys[:, :, :shared], lay.values[:, :, :shared]) for lay in prefix.layers]
            if prefix is not None
            else None
        )
        repeats = torch.tensor([len(r.votes) for r in requests])
        cache = CascadeCache(prompt_kv, prompt_mask[:, shared:], repeats, capacity, prefix_kv)
        del prefix, prefix_kv, prompt_kv
        logits = torch.cat(last).repeat_interleave(repeats.to(device), dim=0)
        next_pos = (positions[:, -1] + 1).repeat_interleave(repeats)
        self._think_cap = self.budget.think_cap(params.max_new_tokens)
        votes = []
        for r, req in enumerate(requests):
            own = params.of(req)  # a pooled call's requests carry their own temperature and top-p
            for v in req.votes:
                votes.append(
                    _Vote(
                        request=r,
                        vote=v,
                        rng=(
                            torch.Generator().manual_seed(vote_seed(own.seed, req.key, v))
                            if own.temperature > 0
                            else None
                        ),
                        sampling=(own.temperature, own.top_p) if own.temperature > 0 else (0.0, 1.0),
                        think=1 if req.think_open else 0,
                        answers=req.answers if self.budget.answer_forcing else None,
                    )
                )
        sampling = any(vote.rng is not None for vote in votes)
        live = list(range(len(votes)))  # vote index of each cache row
        column = 0  # generated position written this step
        while live and column < capacity:
            uniforms = (
                torch.stack(
                    [
                        torch.rand((), generator=votes[v].rng)
                        if votes[v].rng is not None
                        else torch.zeros(())
                        for v in live
                    ]
                )
                if sampling
                else None
            )
            if sampling:
                sampled = sample_rows(logits, [votes[v].sampling for v in live], uniforms).tolist()
            else:
                sampled = logits.argmax(-1).tolist()
            feed = [self.pad_id] * len(live)
            fed = [0] * len(live)
            for row, v in enumerate(live):
                vote = votes[v]
                if vote.done:
                    continue
                token, taken_back = self._append(vote, self._choose(vote, sampled[row]), column, params)
                for col in taken_back:
                    cache.gen_mask[row, col] = False
                next_pos[row] -= len(taken_back)
                if token is not None:
                    feed[row], fed[row] = token, 1
            keep = [row for row, v in enumerate(live) if not votes[v].done]
            if not keep:
                break
            fed_t = torch.tensor(fed, dtype=torch.long)
            cache.gen_mask[:, column] = fed_t.bool().to(device)
            column += 1
            with cascade.active(cache):
                out = model(
                    input_ids=torch.tensor(feed, dtype=torch.long, device=device).unsqueeze(-1),
                    position_ids=next_pos.unsqueeze(-1).to(device),
                    past_key_values=cache,
                    use_cache=True,
                )
            next_pos += fed_t
            logits = out.logits[:, -1]
            if len(keep) <= len(live) // 2:  # drop finished rows once they are half the batch
                index = torch.tensor(keep)
                cache.select_rows(index.to(device))
                logits, next_pos = logits[index.to(device)], next_pos[index]
                live = [live[row] for row in keep]
        return self._collect(requests, votes)

    def _pack_media(self, requests: list[Request], encoded: list[list[int]]) -> list[Packed | None]:
        """Each request's media-packed inputs (None for a text-only request)."""
        from flexjudge.data.media import load_part

        out: list[Packed | None] = []
        for request, ids in zip(requests, encoded, strict=True):
            if not request.media:
                out.append(None)
                continue
            if self.packer is None:
                raise ValueError(f"request {request.key} has media but the engine has no media packer")
            packer = self.packer.with_settings(request.media_settings)  # a pooled request's own sizes
            items = [load_part(part, packer.settings, request.key) for part in request.media]
            out.append(packer.pack(ids, items, where=request.key))
        return out

    def _choose(self, vote: _Vote, sampled: int) -> int:
        """The token this vote takes now: forced text first, else the sample after the budget rules."""
        if vote.forced:
            return vote.forced.popleft()
        budget, cap = self.budget, self._think_cap
        if vote.think == 2 and vote.answers is not None:
            return self._hold_answer(vote, sampled)
        if vote.think != 1 or cap is None:
            return sampled
        over = vote.think_count >= cap
        if sampled in self.eos_ids and not over and vote.rounds < budget.min_think_rounds:
            vote.rounds += 1  # stopped while thinking: send it back
            vote.forced.extend(self.encode(budget.forced_continuation))
        elif over or sampled in self.eos_ids:
            self._end_think(vote, vote.think_count)  # out of budget, or stopped after its rounds
            vote.forced_close = True
            vote.forced.extend(self.encode(budget.forced_close))
        else:
            return sampled
        return vote.forced.popleft()

    def _hold_answer(self, vote: _Vote, sampled: int) -> int:
        """Answer forcing (`held_answer`) on the token the judge sampled after its thinking."""
        tail = vote.ids[max(0, vote.think_start - TAIL_TOKENS) :]  # the close and the answer part
        _, answer, _ = split_think(self.tokenizer.decode(tail, skip_special_tokens=True))
        move = held_answer(answer, vote.answers, sampled in self.eos_ids)  # type: ignore[arg-type]
        if move is None or (move and vote.forced_answers > vote.answers):  # type: ignore[operator]
            return sampled
        if move == "":
            vote.answer_cut = True
            return self.end_id
        vote.forced_answers += 1
        vote.forced.extend(self.encode(move))
        return vote.forced.popleft()

    def _append(
        self, vote: _Vote, token: int, column: int, params: SamplingParams
    ) -> tuple[int | None, list[int]]:
        """Append `token`; return (token to feed, or None once the vote is done; cache columns taken back)."""
        vote.ids.append(token)
        vote.cols.append(column)
        if vote.think == 1:
            vote.think_count += 1
        if token in self.eos_ids:
            vote.done = vote.finished = True
            return None, []
        taken_back: list[int] = []
        tail = self.tokenizer.decode(vote.ids[-TAIL_TOKENS:])
        if vote.think == 0 and THINK_OPEN in tail:
            vote.think, vote.think_count = 1, 0
        elif vote.think == 1 and THINK_CLOSE in tail:
            group = 1  # how many trailing tokens spell the close
            while group < len(vote.ids) and THINK_CLOSE not in self.tokenizer.decode(vote.ids[-group:]):
                group += 1
            if vote.rounds < self.budget.min_think_rounds:
                # Closed too early: take the close back (its fed tokens leave attention), rewrite any text
                # that shared a token with it, and continue with the continuation marker.
                before = self.tokenizer.decode(vote.ids[-group:]).split(THINK_CLOSE)[0]
                taken_back = vote.cols[-group:-1]
                del vote.ids[-group:], vote.cols[-group:]
                vote.think_count -= group
                vote.rounds += 1
                vote.forced.extend(self.encode(before + self.budget.forced_continuation))
                token = vote.forced.popleft()
                vote.ids.append(token)
                vote.cols.append(column)
                vote.think_count += 1
            else:
                self._end_think(vote, vote.think_count - group)
        if params.stop_strings and any(s in tail for s in params.stop_strings):
            vote.done = vote.finished = True
        elif len(vote.ids) >= params.max_new_tokens:
            vote.done = True
        return (None if vote.done else token), taken_back

    @staticmethod
    def _end_think(vote: _Vote, think_tokens: int) -> None:
        vote.think, vote.think_tokens, vote.think_start = 2, think_tokens, len(vote.ids)

    def _collect(self, requests: list[Request], votes: list[_Vote]) -> list[list[Generation]]:
        out: list[list[Generation]] = [[] for _ in requests]
        for vote in votes:
            ended = bool(vote.ids) and vote.ids[-1] in self.eos_ids
            text_ids = vote.ids[:-1] if ended else vote.ids
            out[vote.request].append(
                Generation(
                    text=self.tokenizer.decode(text_ids, skip_special_tokens=True),
                    n_tokens=len(vote.ids),
                    finished=vote.finished,
                    think_tokens=vote.think_count if vote.think == 1 else vote.think_tokens,
                    answer_tokens=len(vote.ids) - vote.think_start if vote.think == 2 else None,
                    rounds=vote.rounds,
                    forced_close=vote.forced_close,
                    forced_answers=vote.forced_answers,
                    answer_cut=vote.answer_cut,
                )
            )
        return out


def generate(
    model,
    tokenizer,
    prompts: Sequence[str],
    params: SamplingParams,
    *,
    batch_size: int = 16,
    budget: Budget | None = None,
    think_open: bool = False,
    desc: str = "generate",
    progress: bool = True,
) -> list[list[Generation]]:
    """`params.n` votes for each prompt, keyed by the prompt's text; results keep the prompts' order."""
    engine = Engine(model, tokenizer, budget=budget, batch_size=batch_size)
    votes = tuple(range(params.n))
    requests = [Request(p, stable_hash("prompt", p), votes, think_open) for p in prompts]
    return engine.generate(requests, params, desc=desc, progress=progress)  # type: ignore[return-value]
