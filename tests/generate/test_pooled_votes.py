"""One session call pooling chats of several benchmarks (each with its own temperature, top-p, media sizes
and vote count) writes the votes each chat's own call would look for: the group prefetch relies on it."""

from __future__ import annotations

import numpy as np
import pytest
from omegaconf import OmegaConf
from PIL import Image

from flexjudge.backbones.inputs import MediaSettings
from flexjudge.generate.engine import SamplingParams
from flexjudge.generate.session import JudgeSession

BACKEND = OmegaConf.create(
    {
        "name": "hf",
        "device": "cpu",
        "batch_size": 8,
        "batch_rows": 16,
        "batch_tokens": None,
        "prefill_tokens": 2048,
        "dtype": None,
    }
)


def _chat(text: str, image: bool = False) -> list[dict]:
    content = [{"type": "image"}, {"type": "text", "text": text}] if image else text
    return [{"role": "user", "content": content}]


def test_a_pooled_call_fills_each_chats_own_cache_keys(tmp_path, tiny_manifest):
    img = tmp_path / "a.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (90, 70, 3), dtype=np.uint8)).save(img)
    media = ({"type": "image", "path": str(img)},)
    small, large = MediaSettings(image_max_pixels=56 * 56), MediaSettings(image_max_pixels=112 * 112)
    # (chat, media, media settings, (temperature, top_p), votes): two benchmarks' worth of settings
    rows = [
        (_chat("Is 2 > 1?"), (), small, (0, 1.0), 1),
        (_chat("Which answer is safer?"), (), large, (0.7, 0.9), 3),
        (_chat("Rate this image.", True), media, small, (0, 1.0), 1),
        (_chat("Rate this image.", True), media, large, (0.7, 0.9), 3),
    ]
    params = SamplingParams(max_new_tokens=6, seed=5)
    cache = str(tmp_path / "votes.sqlite")
    session = JudgeSession(str(tiny_manifest), BACKEND)
    pooled, _, counts = session.votes(
        [r[0] for r in rows],
        params,
        media=[r[1] for r in rows],
        media_settings=[r[2] for r in rows],
        sampling=[r[3] for r in rows],
        votes=[r[4] for r in rows],
        prefill_think=False,
        cache=cache,
        progress=False,
    )
    assert counts.generated == 8 and [len(g) for g in pooled] == [1, 3, 1, 3]
    for i, (chat, parts, settings, (t, top_p), k) in enumerate(rows):
        alone = SamplingParams(max_new_tokens=6, temperature=t, top_p=top_p, n=k, seed=5)  # only its settings
        kw = dict(media=[parts], media_settings=settings, prefill_think=False, progress=False)
        own, _, got = session.votes([chat], alone, cache=cache, **kw)
        assert (got.cached, got.generated) == (k, 0), f"row {i}: its own call missed the pooled votes"
        fresh, _, _ = session.votes([chat], alone, **kw)  # generated again without the cache
        assert [g.text for g in fresh[0]] == [g.text for g in pooled[i]] == [g.text for g in own[0]]
    assert session.loads == 1


def test_a_pooled_call_checks_one_setting_per_chat(tiny_manifest):
    session = JudgeSession(str(tiny_manifest), BACKEND)
    with pytest.raises(ValueError, match=r"pool: 1 sampling for 2 chats \(one per chat\)"):
        session.votes(
            [_chat("a"), _chat("b")], SamplingParams(max_new_tokens=4), sampling=[(0.0, 1.0)], desc="pool"
        )
