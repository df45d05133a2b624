"""Shared-prompt attention equals plain attention over prompt + generated tokens, holes and padding included."""

from __future__ import annotations

import torch

from flexjudge.backbones.cascade import CascadeCache

KV_HEADS, HEADS, DIM, PROMPT, GEN = 2, 4, 8, 5, 4


def _reference(q, pk, pv, pmask, gk, gv, gmask, row_prompt, scale):
    """Per row: concatenate its prompt's and its own keys, repeat kv heads, masked softmax attention."""
    out = []
    for r in range(q.shape[0]):
        p = row_prompt[r]
        k = torch.cat([pk[p], gk[r]], dim=1).repeat_interleave(HEADS // KV_HEADS, dim=0)
        v = torch.cat([pv[p], gv[r]], dim=1).repeat_interleave(HEADS // KV_HEADS, dim=0)
        keep = torch.cat([pmask[p], gmask[r]]).bool()
        scores = (q[r] @ k.transpose(-1, -2)) * scale  # (heads, 1, keys)
        scores = scores.masked_fill(~keep, float("-inf"))
        out.append((torch.softmax(scores, -1) @ v).squeeze(1))  # (heads, dim)
    return torch.stack(out).unsqueeze(1)  # (rows, 1, heads, dim)


def test_cascade_attention_matches_plain_attention():
    gen = torch.Generator().manual_seed(0)
    prompts, repeats = 3, torch.tensor([2, 1, 3])
    rows = int(repeats.sum())
    pk, pv = (
        torch.randn(prompts, KV_HEADS, PROMPT, DIM, generator=gen),
        torch.randn(prompts, KV_HEADS, PROMPT, DIM, generator=gen),
    )
    pmask = torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1], [0, 1, 1, 1, 1]])  # left padding
    cache = CascadeCache([(pk, pv)], pmask, repeats, GEN)
    row_prompt = torch.repeat_interleave(torch.arange(prompts), repeats)
    gk, gv = (
        torch.randn(rows, KV_HEADS, 3, DIM, generator=gen),
        torch.randn(rows, KV_HEADS, 3, DIM, generator=gen),
    )
    keys, values = cache.layers[0].update(gk, gv)
    gmask = torch.ones(rows, 3, dtype=torch.bool)
    gmask[1, 1] = False  # a token taken back
    gmask[4, :2] = False  # two holes
    cache.gen_mask[:, :3] = gmask
    q = torch.randn(rows, HEADS, 1, DIM, generator=gen)
    got = cache.attend(0, q, keys, values, DIM**-0.5)
    want = _reference(q, pk, pv, pmask, gk, gv, gmask, row_prompt, DIM**-0.5)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)

    keep = torch.tensor([1, 2, 5])  # drop the rest: prompt 1 (row 2) and prompt 2 (row 5), row 1 of prompt 0
    cache.select_rows(keep)
    keys, values = cache.layers[0].keys[:, :, :3], cache.layers[0].values[:, :, :3]
    got = cache.attend(0, q[keep], keys, values, DIM**-0.5)
    want = _reference(q[keep], pk, pv, pmask, gk[keep], gv[keep], gmask[keep], row_prompt[keep], DIM**-0.5)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    assert cache.layers[0].prompt_keys.shape[0] == 3 and cache.slots == 1


def test_a_shared_prefix_kept_once_is_plain_attention_too():
    gen = torch.Generator().manual_seed(1)
    prompts, repeats, shared = 3, torch.tensor([1, 3, 1]), 2
    rows = int(repeats.sum())
    pk, pv = (torch.randn(prompts, KV_HEADS, PROMPT, DIM, generator=gen) for _ in range(2))
    pk[:, :, :shared], pv[:, :, :shared] = pk[:1, :, :shared], pv[:1, :, :shared]  # one prefix for all
    pmask = torch.tensor([[1, 1, 0, 1, 1], [1, 1, 1, 1, 1], [1, 1, 0, 0, 1]])  # padding after the prefix
    own = [(pk[:, :, shared:], pv[:, :, shared:])]
    cache = CascadeCache(own, pmask[:, shared:], repeats, GEN, [(pk[:1, :, :shared], pv[:1, :, :shared])])
    assert (
        cache.layers[0].prompt_keys.shape[-2] == PROMPT - shared and cache.layers[0].prefix[0].shape[0] == 1
    )
    row_prompt = torch.repeat_interleave(torch.arange(prompts), repeats)
    gk, gv = (torch.randn(rows, KV_HEADS, 2, DIM, generator=gen) for _ in range(2))
    keys, values = cache.layers[0].update(gk, gv)
    gmask = torch.ones(rows, 2, dtype=torch.bool)
    gmask[2, 0] = False
    cache.gen_mask[:, :2] = gmask
    assert cache.get_seq_length() == PROMPT + 2
    q = torch.randn(rows, HEADS, 1, DIM, generator=gen)
    got = cache.attend(0, q, keys, values, DIM**-0.5)
    want = _reference(q, pk, pv, pmask, gk, gv, gmask, row_prompt, DIM**-0.5)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    keep = torch.tensor([0, 3])
    cache.select_rows(keep)
    got = cache.attend(
        0, q[keep], cache.layers[0].keys[:, :, :2], cache.layers[0].values[:, :, :2], DIM**-0.5
    )
    want = _reference(q[keep], pk, pv, pmask, gk[keep], gv[keep], gmask[keep], row_prompt[keep], DIM**-0.5)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
