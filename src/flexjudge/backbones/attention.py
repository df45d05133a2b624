"""The attention implementation flexjudge registers with transformers (`ATTENTION`).

It is SDPA, except in two cases where SDPA with a mask would do work that is thrown away:
- decoding steps of the judging engine with an active `CascadeCache` (shared-prompt attention,
  see `flexjudge.backbones.cascade`);
- packed training rows (positions restarting at 0 for each example, see `flexjudge.training.sft.PackCollator`):
  each example attends causally within itself, one SDPA call per example, instead of one call over the
  whole row with a block-diagonal mask whose masked blocks would still be computed.
"""

from __future__ import annotations

import torch
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

from flexjudge.backbones import cascade

ATTENTION = "flexjudge_sdpa"


def segment_starts(position_ids: torch.Tensor | None, length: int) -> list[int] | None:
    """Start offsets of the packed examples in a single row, or None if the row is one sequence."""
    if position_ids is None or position_ids.dim() != 2 or position_ids.shape != (1, length) or length < 2:
        return None
    restarts = (position_ids[0, 1:] != position_ids[0, :-1] + 1).nonzero().flatten()
    if not len(restarts):
        return None
    return [0, *(restarts + 1).tolist()]


def packed_attention(module, query, key, value, starts: list[int], scaling: float | None):
    """Causal attention within each packed example: (1, heads, L, dim) → (1, L, heads, dim)."""
    ends = [*starts[1:], query.shape[2]]
    out = torch.empty_like(query)
    gqa = query.shape[1] != key.shape[1]
    for s, e in zip(starts, ends, strict=True):
        out[:, :, s:e] = torch.nn.functional.scaled_dot_product_attention(
            query[:, :, s:e], key[:, :, s:e], value[:, :, s:e], is_causal=True, scale=scaling, enable_gqa=gqa
        )
    return out.transpose(1, 2).contiguous()


def attention(module, query, key, value, attention_mask, dropout=0.0, scaling=None, **kwargs):
    """Registered attention: cascade decoding, per-example packed training, else transformers' SDPA."""
    cache = cascade.current()
    if cache is not None and query.shape[2] == 1 and getattr(module, "layer_idx", None) is not None:
        scale = scaling if scaling is not None else query.shape[-1] ** -0.5
        return cache.attend(module.layer_idx, query, key, value, scale), None
    if dropout == 0.0 and query.shape[2] == key.shape[2]:
        starts = segment_starts(kwargs.get("position_ids"), query.shape[2])
        if starts is not None:
            return packed_attention(module, query, key, value, starts, scaling), None
    return sdpa_attention_forward(module, query, key, value, attention_mask, dropout, scaling, **kwargs)


AttentionInterface.register(ATTENTION, attention)
AttentionMaskInterface.register(ATTENTION, sdpa_mask)
