"""Shared-prompt ("cascade") attention for decoding k votes of the same prompt.

After one prefill, the k votes of a prompt share its keys and values. Repeating them per vote would
make every decoding step read the prompt's cache k times, and on CPU that memory traffic, not the
arithmetic, is what attention costs. Here each decoder layer keeps the prompt part once per prompt and
the generated part per vote; a step attends to both and merges the two softmax pieces exactly
(running max and normaliser), so the result is ordinary attention over prompt + generated tokens.

`flexjudge.backbones.attention` (the attention implementation the engine sets on its model) calls
`CascadeCache.attend` for single-token decoding steps while a cache is active (see `active`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import torch
from transformers.cache_utils import Cache

from flexjudge.backbones.kvcache import PreallocatedCache, PreallocatedLayer

_ACTIVE: ContextVar[CascadeCache | None] = ContextVar("flexjudge_cascade", default=None)


class _GeneratedLayer(PreallocatedLayer):
    """One layer: the prompt's keys/values once per prompt, generated ones per vote in fixed buffers."""

    def __init__(self, prompt_keys: torch.Tensor, prompt_values: torch.Tensor, rows: int, capacity: int):
        super().__init__(capacity)
        self.prompt_keys, self.prompt_values = prompt_keys, prompt_values
        heads = prompt_keys.shape[1]
        self.lazy_initialization(
            prompt_keys.new_empty((rows, heads, 0, prompt_keys.shape[-1])),
            prompt_values.new_empty((rows, heads, 0, prompt_values.shape[-1])),
        )

    def get_seq_length(self) -> int:
        return self.prompt_keys.shape[-2] + self.length

    def get_max_length(self) -> int:
        return self.prompt_keys.shape[-2] + self.capacity

    def select(self, rows: torch.Tensor, prompts: torch.Tensor) -> None:
        self.keys, self.values = self.keys.index_select(0, rows), self.values.index_select(0, rows)
        self.prompt_keys = self.prompt_keys.index_select(0, prompts)
        self.prompt_values = self.prompt_values.index_select(0, prompts)


class CascadeCache(Cache):
    """The cache of a batch of prompts decoded with several votes each.

    `gen_mask[row, j]` says whether vote `row` attends to its j-th generated position (0 for positions
    taken back or not fed); the prompt's padding comes from the prefill's attention mask.
    """

    def __init__(
        self, prefill: PreallocatedCache, prompt_mask: torch.Tensor, repeats: torch.Tensor, capacity: int
    ):
        rows = int(repeats.sum())
        super().__init__(
            layers=[_GeneratedLayer(layer.keys, layer.values, rows, capacity) for layer in prefill.layers]
        )
        device = prefill.layers[0].keys.device
        self.row_prompt = torch.repeat_interleave(torch.arange(len(repeats)), repeats).to(device)
        self.prompt_bias = _bias(prompt_mask.to(device).bool(), prefill.layers[0].keys.dtype)
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

        p_max, p_sum, p_out = unpack(p_max), unpack(p_sum), unpack(p_out)
        # generated part: each vote against its own tokens
        g_bias = _bias(self.gen_mask[:, : keys.shape[-2]], q.dtype)
        scores = q @ keys.float().transpose(-1, -2) + g_bias
        g_max = scores.amax(-1, keepdim=True)
        weights = torch.exp(scores - g_max)
        g_sum = weights.sum(-1, keepdim=True)
        g_out = weights @ values.float()
        top = torch.maximum(p_max, g_max)
        p_scale, g_scale = torch.exp(p_max - top), torch.exp(g_max - top)
        out = (p_out * p_scale + g_out * g_scale) / (p_sum * p_scale + g_sum * g_scale)
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
