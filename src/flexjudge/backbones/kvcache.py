"""A key/value cache that allocates its full length once, so writing to it never copies what it holds.

transformers' DynamicCache grows by `torch.cat`, copying the whole cache on every step; on CPU with a
batch of judge votes that copy took most of a step's time. Each layer here holds
[rows, heads, capacity, head_dim] buffers and hands attention a view of the filled part. The engine
prefills prompts into it; decoding continues in `cascade.CascadeCache`.
"""

from __future__ import annotations

import torch
from transformers.cache_utils import Cache, DynamicLayer


class PreallocatedLayer(DynamicLayer):
    """One layer's keys and values in fixed-capacity buffers; `update` writes in place and returns views."""

    def __init__(self, capacity: int):
        super().__init__()
        self.capacity = capacity
        self.length = 0

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        self.dtype, self.device = key_states.dtype, key_states.device
        rows, heads, _, k_dim = key_states.shape
        self.keys = key_states.new_empty((rows, heads, self.capacity, k_dim))
        self.values = value_states.new_empty((rows, heads, self.capacity, value_states.shape[-1]))
        self.is_initialized = True

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        end = self.length + key_states.shape[-2]
        if end > self.capacity:
            raise RuntimeError(f"KV cache capacity {self.capacity} exceeded ({end} positions)")
        self.keys[:, :, self.length : end] = key_states
        self.values[:, :, self.length : end] = value_states
        self.length = end
        return self.keys[:, :, :end], self.values[:, :, :end]

    def get_seq_length(self) -> int:
        return self.length

    def rows_copy(self, rows: int) -> PreallocatedLayer:
        """This one-row layer repeated `rows` times, its filled part and free room alike."""
        if self.keys.shape[0] != 1:
            raise ValueError(f"rows_copy needs a one-row layer, not {self.keys.shape[0]} rows")
        layer = PreallocatedLayer(self.capacity)
        layer.keys, layer.values = self.keys.repeat(rows, 1, 1, 1), self.values.repeat(rows, 1, 1, 1)
        layer.length, layer.dtype, layer.device = self.length, self.dtype, self.device
        layer.is_initialized = True
        return layer

    def get_max_length(self) -> int:
        return self.capacity

    def crop(self, tokens_to_remove: int) -> None:
        raise NotImplementedError("PreallocatedLayer does not crop; mask positions out instead")

    def reset(self) -> None:
        self.length = 0
        super().reset()


class PreallocatedCache(Cache):
    """A cache of PreallocatedLayers, one per decoder layer of `config`."""

    def __init__(self, config, capacity: int):
        text = config.get_text_config(decoder=True)
        if getattr(text, "use_sliding_window", False) and getattr(text, "sliding_window", None):
            raise ValueError("sliding-window attention is not supported by the preallocated cache")
        super().__init__(layers=[PreallocatedLayer(capacity) for _ in range(text.num_hidden_layers)])

    def repeated(self, rows: int) -> PreallocatedCache:
        """A new cache of `rows` copies of this filled one-row cache (a prefix every prompt of a batch
        shares), each with the rest of its capacity free for that row's own tokens; this one is unchanged."""
        out = PreallocatedCache.__new__(PreallocatedCache)
        Cache.__init__(out, layers=[layer.rows_copy(rows) for layer in self.layers])
        return out
