"""Shared-prompt ("cascade") attention for decoding k votes of the same prompt.

After one prefill, the k votes of a prompt share its keys and values. Repeating them per vote would
make every decoding step read the prompt's cache k times, and on CPU that memory traffic, not the
arithmetic, is what attention costs. Here each decoder layer keeps the prompt part once per prompt and
the generated part per vote; a step attends to both and merges the two softmax pieces exactly
(running max and normaliser), so the result is ordinary attention over prompt + generated tokens.
A prefix every prompt of the batch shares (`shared` columns: the judge format's instructions) is a third
piece, kept once for the whole batch and read once per step for all rows: with 64 single-vote prompts it
was half of the keys and values a step read.

`flexjudge.backbones.attention` (the attention implementation the engine sets on its model) calls
`CascadeCache.attend` for single-token decoding steps while a cache is active (see `active`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import torch
from transformers.cache_utils import Cache

from flexjudge.backbones.kvcache import PreallocatedLayer

_ACTIVE: ContextVar[CascadeCache | None] = ContextVar("flexjudge_cascade", default=None)


class _GeneratedLayer(PreallocatedLayer):
    """One layer: the prompt's keys/values once per prompt, generated ones per vote in fixed buffers."""

    def __init__(
        self,
        prompt_keys: torch.Tensor,
        prompt_values: torch.Tensor,
        rows: int,
        capacity: int,
        prefix: tuple[torch.Tensor, torch.Tensor] | None = None,
    ):
        super().__init__(capacity)
        self.prompt_keys, self.prompt_values = prompt_keys, prompt_values
        self.prefix = prefix  # (keys, values) of the shared prefix, (1, kv_heads, shared, dim), or None
        heads = prompt_keys.shape[1]
        self.lazy_initialization(
            prompt_keys.new_empty((rows, heads, 0, prompt_keys.shape[-1])),
            prompt_values.new_empty((rows, heads, 0, prompt_values.shape[-1])),
        )

    def get_seq_length(self) -> int:
        return self._shared() + self.prompt_keys.shape[-2] + self.length

    def get_max_length(self) -> int:
        return self._shared() + self.prompt_keys.shape[-2] + self.capacity

    def _shared(self) -> int:
        return 0 if self.prefix is None else self.prefix[0].shape[-2]

    def select(self, rows: torch.Tensor, prompts: torch.Tensor) -> None:
        self.keys, self.values = self.keys.index_select(0, rows), self.values.index_select(0, rows)
        self.prompt_keys = self.prompt_keys.index_select(0, prompts)
        self.prompt_values = self.prompt_values.index_select(0, prompts)


class CascadeCache(Cache):
    """The cache of a batch of prompts decoded with several votes each.

    `gen_mask[row, j]` says whether vote `row` attends to its j-th generated position (0 for positions
    taken back or not fed); the prompt's padding comes from the prefill's attention mask. A prefix
    the prompts share (unpadded, before each prompt's own columns) is kept once.
    """

    def __init__(
        self,
        prompt_kv: list[tuple[torch.Tensor, torch.Tensor]],
        prompt_mask: torch.Tensor,
        repeats: torch.Tensor,
        capacity: int,
        prefix_kv: list[tuple[torch.Tensor, torch.Tensor]] | None = None,
    ):
        """`prompt_kv`: each layer's prompt keys and values, (prompts, kv heads, width, dim), padded as
        `prompt_mask` says; `prefix_kv`: each layer's shared prefix, (1, kv heads, shared, dim), or None."""
        rows = int(repeats.sum())
        prefixes = prefix_kv if prefix_kv is not None else [None] * len(prompt_kv)
        super().__init__(
            layers=[
                _GeneratedLayer(
                    k, v, rows, capacity, None if x is None else (x[0].contiguous(), x[1].contiguous())
                )
                for (k, v), x in zip(prompt_kv, prefixes, strict=True)
            ]
        )
        device = prompt_kv[0][0].device
        self.row_prompt = torch.repeat_interleave(torch.arange(len(repeats)), repeats).to(device)
        self.prompt_bias = _bias(prompt_mask.to(device).bool(), prompt_kv[0][0].dtype)
        self.gen_mask = torch.zeros((rows, capacity), dtype=torch.bool, device=device)
        self._index()

    def _index(self) -> None:
        """Slot of each row among its prompt's rows, for packing queries per prompt."""
        first = torch.searchsorted(self.row_prompt, self.row_prompt)  # rows are grouped by prompt
        self.row_slot = torch.arange(len(self.row_prompt), device=self.row_prompt.device) - first
        self.slots = int(self.row_slot.max()) + 1 if len(self.row_slot) else 1

    def select_rows(self, rows: torch.Tensor) -> None:
        """Keep only `rows` (e.g. votes still decoding), and the prompts they belong to."""
        kept = self.row_prompt.index_select(0, rows)
        prompts, self.row_prompt = torch.unique(kept, sorted=True, return_inverse=True)
        for layer in self.layers:
            layer.select(rows, prompts)
        self.prompt_bias = self.prompt_bias.index_select(0, prompts)
        self.gen_mask = self.gen_mask.index_select(0, rows)
        self._index()

    def attend(
        self, layer_idx: int, query: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, scale: float
    ):
        """Attention of one new token per row: (rows, heads, 1, dim) → (rows, 1, heads, dim)."""
        layer = self.layers[layer_idx]
        rows, heads, _, dim = query.shape
        kv_heads = keys.shape[1]
        group = heads // kv_heads
        q = query.reshape(rows, kv_heads, group, dim).float() * scale
        # prompt part: queries of all votes of a prompt together, against that prompt's keys read once
        packed = q.new_zeros((self.prompt_bias.shape[0], self.slots, kv_heads, group, dim))
        packed[self.row_prompt, self.row_slot] = q
        packed = packed.permute(0, 2, 1, 3, 4).reshape(-1, kv_heads, self.slots * group, dim)
        scores = packed @ layer.prompt_keys.float().transpose(-1, -2) + self.prompt_bias
        p_max = scores.amax(-1, keepdim=True)
        weights = torch.exp(scores - p_max)
        p_sum = weights.sum(-1, keepdim=True)
        p_out = weights @ layer.prompt_values.float()

        def unpack(t: torch.Tensor) -> torch.Tensor:
            t = t.reshape(t.shape[0], kv_heads, self.slots, group, t.shape[-1]).permute(0, 2, 1, 3, 4)
            return t[self.row_prompt, self.row_slot]  # (rows, kv_heads, group, last)

        pieces = [(unpack(p_max), unpack(p_sum), unpack(p_out))]
        if layer.prefix is not None:  # shared prefix: every row's queries against its keys, read once
            pk, pv = layer.prefix
            flat = q.permute(1, 0, 2, 3).reshape(1, kv_heads, rows * group, dim)
            scores = flat @ pk.float().transpose(-1, -2)
            x_max = scores.amax(-1, keepdim=True)
            weights = torch.exp(scores - x_max)

            def unflat(t: torch.Tensor) -> torch.Tensor:
                return t.reshape(kv_heads, rows, group, t.shape[-1]).permute(1, 0, 2, 3)

            pieces.append(
                (unflat(x_max), unflat(weights.sum(-1, keepdim=True)), unflat(weights @ pv.float()))
            )
        # generated part: each vote against its own tokens
        g_bias = _bias(self.gen_mask[:, : keys.shape[-2]], q.dtype)
        scores = q @ keys.float().transpose(-1, -2) + g_bias
        g_max = scores.amax(-1, keepdim=True)
        weights = torch.exp(scores - g_max)
        pieces.append((g_max, weights.sum(-1, keepdim=True), weights @ values.float()))
        top = pieces[0][0]
        for piece_max, _, _ in pieces[1:]:
            top = torch.maximum(top, piece_max)
        num = den = 0
        for piece_max, piece_sum, piece_out in pieces:
            factor = torch.exp(piece_max - top)
            num, den = num + piece_out * factor, den + piece_sum * factor
        out = num / den
        return out.reshape(rows, 1, heads, dim).to(query.dtype)


def _bias(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Additive attention bias (rows, 1, 1, length): 0 where attended, the dtype's minimum elsewhere."""
    bias = torch.zeros(mask.shape, dtype=torch.float32, device=mask.device)
    bias.masked_fill_(~mask, torch.finfo(torch.float32).min)
    return bias[:, None, None, :]


def current() -> CascadeCache | None:
    """The cache of the decoding step in progress, if any."""
    return _ACTIVE.get()


@contextmanager
def active(cache: CascadeCache) -> Iterator[None]:
    """Decode with `cache` (the registered attention looks it up here)."""
    token = _ACTIVE.set(cache)
    try:
        yield
    finally:
        _ACTIVE.reset(token)
