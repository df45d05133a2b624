"""Media reading and packing: images, several images, video frames and 16 kHz audio reach the tiny
Qwen2.5-VL and Qwen2.5-Omni-thinker models through their processors, with the model's own 3-D
positions, in padded and packed training batches mixed with text-only examples."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.io import wavfile
from transformers import Qwen2VLImageProcessorPil

from flexjudge.backbones.attention import ATTENTION
from flexjudge.backbones.checkpoints import save_checkpoint
from flexjudge.backbones.inputs import MediaPacker, MediaSettings
from flexjudge.backbones.omni import omni_feature_extractor
from flexjudge.backbones.tiny import tiny_qwen2_5_omni_thinker, tiny_qwen2_5_vl
from flexjudge.core.io import DataError
from flexjudge.data.media import Media, load_audio, load_image, load_media, load_video, resolve_media
from flexjudge.training.sft import IGNORE, PackCollator, PadCollator, encode_chat, uses_mrope

SETTINGS = MediaSettings(
    image_max_pixels=112 * 112, video_max_pixels=56 * 56 * 2, video_fps=2.0, max_frames=6
)
RNG = np.random.default_rng(0)


def picture(h: int, w: int, seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8))


@pytest.fixture(scope="module")
def models():
    image_processor = Qwen2VLImageProcessorPil(min_pixels=3136, max_pixels=200704)
    out = {}
    for name, build in (("vl", tiny_qwen2_5_vl), ("omni", tiny_qwen2_5_omni_thinker)):
        model, tok = build(seed=0)
        out[name] = (
            model.eval(),
            tok,
            MediaPacker(model, image_processor, omni_feature_extractor(), SETTINGS),
        )
    return out


def chat(parts: list[dict], answer: str | None = None) -> list[dict]:
    msgs = [{"role": "user", "content": parts}]
    return msgs + ([{"role": "assistant", "content": answer}] if answer else [])


def prompt_ids(tok, parts) -> list[int]:
    text = tok.apply_chat_template(chat(parts), tokenize=False, add_generation_prompt=True)
    return tok(text, add_special_tokens=False)["input_ids"]


def all_media(omni: bool) -> tuple[list[dict], list[Media]]:
    parts = [
        {"type": "image"},
        {"type": "text", "text": "left vs right"},
        {"type": "image"},
        {"type": "video"},
    ]
    media = [
        Media("image", picture(100, 80, 1)),
        Media("image", picture(60, 130, 2)),
        Media("video", [picture(64, 64, 3 + i) for i in range(3)], fps=2.0),
    ]
    if omni:
        parts.append({"type": "audio"})
        media.append(Media("audio", (RNG.standard_normal(16000 * 2) * 0.1).astype(np.float32), rate=16000))
    return parts, media


# -- reading files ---------------------------------------------------------------------------


def test_media_files_are_read_without_torchvision(tmp_path):
    picture(40, 50).save(tmp_path / "a.png")
    assert load_image(tmp_path / "a.png").data.size == (50, 40)
    # a GIF of 10 frames at 100 ms each (1 s), sampled at 4 fps → frames 0, 2(.5), 5, 7(.5) → 0, 2, 5, 7
    frames = [Image.new("RGB", (16, 16), (25 * i, 0, 0)) for i in range(10)]
    frames[0].save(tmp_path / "v.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    got = load_video(tmp_path / "v.gif", fps=4.0, max_frames=32).data
    assert [f.getpixel((0, 0))[0] for f in got] == [0, 50, 125, 175]
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, f in enumerate(frames):
        f.save(folder / f"{i:03d}.png")
    assert len(load_video(folder, fps=2.0, max_frames=32, source_fps=10).data) == 2
    assert len(load_video(folder, fps=50.0, max_frames=4, source_fps=10).data) == 4  # capped, spread evenly
    with pytest.raises(DataError, match="frame rate"):
        load_video(folder, fps=2.0, max_frames=4)
    # 44.1 kHz stereo int16 → 16 kHz mono float in [-1, 1]
    t = np.arange(44100) / 44100
    tone = (np.sin(2 * np.pi * 440 * t) * 16000).astype(np.int16)
    wavfile.write(tmp_path / "a.wav", 44100, np.stack([tone, tone], axis=1))
    audio = load_audio(tmp_path / "a.wav")
    assert audio.rate == 16000 and audio.data.ndim == 1 and abs(len(audio.data) - 16000) <= 1
    assert 0.45 < np.abs(audio.data).max() < 0.55


def test_media_paths_stay_inside_the_data_root(tmp_path):
    (tmp_path / "data").mkdir()
    picture(8, 8).save(tmp_path / "outside.png")
    with pytest.raises(DataError, match="leaves the data root"):
        resolve_media(tmp_path / "data", "../outside.png", "rows.jsonl:3")
    with pytest.raises(DataError, match=r"rows.jsonl:4: media file .*missing.png does not exist"):
        resolve_media(tmp_path / "data", "missing.png", "rows.jsonl:4")
    with pytest.raises(DataError, match="needs kind"):
        load_media({"kind": "smell", "path": "x"}, tmp_path, video_fps=1, max_frames=2, where="rows.jsonl:5")


# -- packing ----------------------------------------------------------------------------------


def test_a_still_video_is_its_image_repeated_over_time(models):
    _, _, packer = models["vl"]
    frame = picture(56, 84)
    still = packer.video(Media("video", [frame] * 4, fps=2.0))
    packer_same_size = MediaPacker(
        packer.model, packer.image_processor, None, MediaSettings(image_max_pixels=56 * 84)
    )
    image = packer_same_size.image(Media("image", frame))
    t, h, w = still["video_grid_thw"][0].tolist()
    assert (t, h, w) == (2, *image["image_grid_thw"][0, 1:].tolist())
    assert torch.equal(still["pixel_values_videos"], image["pixel_values"].repeat(2, 1))
    assert torch.equal(still["second_per_grid_ts"], torch.tensor([1.0]))


@pytest.mark.parametrize("name", ["vl", "omni"])
def test_packed_media_match_the_models_own_positions(models, name):
    model, tok, packer = models[name]
    parts, media = all_media(name == "omni")
    ids = prompt_ids(tok, parts)
    packed = packer.pack(ids, media)
    kinds = sorted(set(packed.token_types))
    assert kinds == ([0, 1, 2, 3] if name == "omni" else [0, 1, 2])
    assert len(packed.input_ids) > len(ids) and packed.positions.shape == (3, len(packed.input_ids))
    x = torch.tensor([packed.input_ids])
    with torch.no_grad():
        if name == "omni":  # the thinker computes 3-D positions itself only when given an attention mask
            own = model(input_ids=x, attention_mask=torch.ones_like(x), **packed.media).logits
        else:
            types = torch.tensor([packed.token_types])
            own = model(input_ids=x, mm_token_type_ids=types, **packed.media).logits
        text_row = torch.arange(x.shape[1])[None]
        ours = model(
            input_ids=x, position_ids=torch.cat([text_row, packed.positions])[:, None], **packed.media
        ).logits
    assert torch.equal(own, ours)
    # the media change the logits (they are not ignored)
    blank = [Media("image", Image.new("RGB", (80, 100))), *media[1:]]
    other = packer.pack(ids, blank)
    with torch.no_grad():
        changed = model(
            input_ids=x, position_ids=torch.cat([text_row, other.positions])[:, None], **other.media
        ).logits
    assert not torch.allclose(changed, ours)


def test_placeholders_and_media_must_agree(models):
    _, tok, packer = models["vl"]
    ids = prompt_ids(tok, [{"type": "image"}, {"type": "text", "text": "?"}])
    with pytest.raises(DataError, match=r"rows.jsonl:7: the prompt has media placeholders \['image'\]"):
        packer.pack(ids, [], where="rows.jsonl:7")
    with pytest.raises(DataError, match="placeholders"):
        packer.pack(ids, [Media("video", [picture(28, 28)])], where="rows.jsonl:8")
    _, omni_tok, omni = models["omni"]
    long = Media("audio", np.zeros(16000 * 31, dtype=np.float32), rate=16000, source="long.wav")
    ids = prompt_ids(omni_tok, [{"type": "audio"}])
    with pytest.raises(DataError, match="long.wav: audio is 31.0 s"):
        omni.pack(ids, [long])


@pytest.mark.parametrize("name", ["vl", "omni"])
def test_mixed_media_and_text_batches_train_padded_and_packed(models, name):
    """A batch of a media example and a text-only one: padded (model's positions) and packed (ours)
    give the same per-example logits as the example alone, and a training step reaches the LLM only."""
    model, tok, packer = models[name]
    parts, media = all_media(name == "omni")
    with_media = encode_chat(tok, chat(parts, "<think>\nok\n</think>\n<answer>A</answer>"), 1 << 30)
    feature = packer.pack(with_media["input_ids"], media, with_media["labels"]).as_feature()
    text = encode_chat(tok, chat([{"type": "text", "text": "Is 2 > 1?"}], "<answer>yes</answer>"), 1 << 30)
    assert all(
        label == IGNORE for label, t in zip(feature["labels"], feature["token_types"], strict=True) if t
    )

    n = len(feature["input_ids"])
    with torch.no_grad():
        x = torch.tensor([feature["input_ids"]])
        rope = torch.cat([torch.arange(n)[None], feature["mrope_positions"]])[:, None]
        media_keys = {
            k: v
            for k, v in feature.items()
            if k not in ("input_ids", "labels", "token_types", "mrope_positions")
        }
        alone = model(input_ids=x, position_ids=rope, **media_keys).logits[0]

        pad = PadCollator(tok.pad_token_id, token_types=name == "vl")([feature, text])
        padded = model(**{k: v for k, v in pad.items() if k != "labels"}).logits[0, :n]
        torch.testing.assert_close(padded, alone, atol=1e-5, rtol=1e-5)

        model.set_attn_implementation(ATTENTION)
        pack = PackCollator(mrope=uses_mrope(model))([text, feature])
        assert pack["position_ids"].shape == (4, 1, n + len(text["input_ids"]))
        packed = model(**{k: v for k, v in pack.items() if k not in ("labels", "logits_to_keep")}).logits[0]
        model.set_attn_implementation("sdpa")
    torch.testing.assert_close(packed[len(text["input_ids"]) :], alone, atol=1e-5, rtol=1e-5)

    # one training step on the mixed batch reaches the LLM's layers (the encoders are frozen in SFT)
    model.zero_grad()
    model(**pad).loss.backward()
    llm_grads = [p.grad for n, p in model.named_parameters() if ".layers." in n and p.grad is not None]
    assert llm_grads and any(bool(g.abs().sum() > 0) for g in llm_grads)
    model.zero_grad()


def test_omni_checkpoint_keeps_both_processors(tmp_path, models):
    from transformers import WhisperFeatureExtractor

    from flexjudge.backbones.loader import load_judge, write_manifest

    model, tok, packer = models["omni"]
    save_checkpoint(model, tok, tmp_path / "ckpt", packer.image_processor, packer.feature_extractor)
    assert WhisperFeatureExtractor.from_pretrained(tmp_path / "ckpt").feature_size == 128
    manifest = write_manifest(
        tmp_path,
        backbone="tiny_omni",
        variant="base",
        weights=str(tmp_path / "ckpt"),
        model_class="Qwen2_5OmniThinkerForConditionalGeneration",
        dtype="float32",
        processor="image+audio",
    )
    judge = load_judge(manifest, device="cpu")
    assert judge.image_processor is not None and judge.feature_extractor is not None
    parts, media = all_media(True)
    assert judge.media_packer(SETTINGS).pack(prompt_ids(tok, parts), media).media["input_features"].shape == (
        1,
        128,
        3000,
    )


@pytest.fixture(scope="module")
def media_sft(tmp_path_factory) -> Path:
    """An SFT file mixing text rows with image, two-image, video (frame folder) and audio rows."""
    root = tmp_path_factory.mktemp("media_sft")
    (root / "media" / "clip").mkdir(parents=True)
    picture(60, 90, 1).save(root / "media" / "a.png")
    picture(90, 60, 2).save(root / "media" / "b.png")
    for i in range(4):
        picture(56, 56, 10 + i).save(root / "media" / "clip" / f"{i:02d}.png")
    wavfile.write(root / "media" / "s.wav", 22050, (RNG.standard_normal(22050) * 3000).astype(np.int16))
    answer = "<think>\nThe first one.\n</think>\n<answer>A</answer>"
    rows = [
        {"messages": chat([{"type": "text", "text": "Is 2 > 1?"}], "<answer>yes</answer>")},
        {
            "messages": chat([{"type": "image"}, {"type": "text", "text": "Rate it."}], answer),
            "media": [{"kind": "image", "path": "media/a.png"}],
        },
        {
            "messages": chat(
                [{"type": "image"}, {"type": "image"}, {"type": "text", "text": "Which?"}], answer
            ),
            "media": [{"kind": "image", "path": "media/a.png"}, {"kind": "image", "path": "media/b.png"}],
        },
        {
            "messages": chat([{"type": "video"}, {"type": "text", "text": "Smooth?"}], answer),
            "media": [{"kind": "video", "path": "media/clip", "fps": 4}],
        },
        {
            "messages": chat([{"type": "audio"}, {"type": "text", "text": "Clean?"}], answer),
            "media": [{"kind": "audio", "path": "media/s.wav"}],
        },
        {"messages": chat([{"type": "text", "text": "Say hi."}], "hi")},
    ]
    path = root / "sft.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.slow
@pytest.mark.parametrize("packing", [True, False], ids=["packed", "padded"])
def test_finetune_stage_trains_on_media_rows(tmp_path, media_sft, packing):
    """The finetune stage trains the tiny Omni thinker on mixed media/text rows, keeps its encoders
    bit-identical (the stage checks), and saves a checkpoint that reloads with both processors."""
    from conftest import stage_cfg
    from flexjudge.backbones.loader import load_judge
    from flexjudge.core.io import read_json
    from flexjudge.finetune import run as finetune
    from flexjudge.provision import run as provision

    manifest = provision(stage_cfg("provision", tmp_path, "backbone=tiny_omni"))
    overrides = [
        "backbone=tiny_omni",
        f"base={manifest}",
        f"data={media_sft}",
        "trainer.epochs=1",
        "trainer.per_device_batch_size=3",
        "trainer.grad_accumulation=1",
        "trainer.save_steps=0",
        f"trainer.packing={str(packing).lower()}",
        "trainer.learning_rate=1e-3",
        "media.video_max_pixels=3136",
    ]
    summary = finetune(stage_cfg("finetune", tmp_path, *overrides))
    assert summary["examples"] == 6 and summary["examples_with_media"] == 4 and summary["steps"] == 2
    report = read_json(tmp_path / "finetune" / "tiny_omni" / "train_report.json")
    assert report["frozen_parameters_checked"] > 0 and np.isfinite(report["train_loss"])
    judge = load_judge(tmp_path / "finetune" / "tiny_omni" / "judge.json", device="cpu")
    assert judge.feature_extractor is not None and judge.image_processor is not None


def test_finetune_names_the_row_of_a_bad_media_path(tmp_path, media_sft):
    from conftest import stage_cfg
    from flexjudge.finetune import run as finetune
    from flexjudge.provision import run as provision

    bad = tmp_path / "bad.jsonl"
    rows = media_sft.read_text().splitlines()
    rows[3] = rows[3].replace("media/clip", "../../etc")
    bad.write_text("\n".join(rows) + "\n")
    manifest = provision(stage_cfg("provision", tmp_path, "backbone=tiny_omni"))
    cfg = stage_cfg(
        "finetune",
        tmp_path,
        "backbone=tiny_omni",
        f"base={manifest}",
        f"data={bad}",
        f"media_root={media_sft.parent}",
    )
    with pytest.raises(DataError, match=r"bad.jsonl:4: media path '../../etc' leaves the data root"):
        finetune(cfg)


@pytest.mark.parametrize("name", ["vl", "omni"])
def test_engine_judges_media_like_plain_generate(models, tmp_path, name):
    """Greedy votes of requests with images, a video and audio equal transformers' own generate on
    the processed inputs (its own 3-D positions), alone and batched with a text-only request."""
    from flexjudge.generate.engine import Request, SamplingParams
    from flexjudge.generate.hf import Engine

    model, tok, packer = models[name]
    folder = tmp_path / "clip"
    folder.mkdir()
    for i in range(3):
        picture(64, 64, 3 + i).save(folder / f"{i}.png")
    picture(100, 80, 1).save(tmp_path / "a.png")
    parts = [
        {"type": "image", "path": str(tmp_path / "a.png")},
        {"type": "video", "path": str(folder), "fps": 2.0},
    ]
    content = [{"type": "image"}, {"type": "video"}, {"type": "text", "text": "Which is better?"}]
    if name == "omni":
        wavfile.write(tmp_path / "s.wav", 16000, (RNG.standard_normal(16000) * 3000).astype(np.int16))
        parts.append({"type": "audio", "path": str(tmp_path / "s.wav")})
        content.append({"type": "audio"})
    prompt = tok.apply_chat_template(chat(content), tokenize=False, add_generation_prompt=True)
    text_prompt = tok.apply_chat_template(
        chat([{"type": "text", "text": "Is 2 > 1?"}]), tokenize=False, add_generation_prompt=True
    )
    media_request = Request(prompt, "m", media=tuple(parts))
    params = SamplingParams(max_new_tokens=8)
    engine = Engine(model, tok, batch_size=2, packer=packer)
    alone = engine.generate([media_request], params, progress=False)[0][0]
    together = engine.generate([media_request, Request(text_prompt, "t")], params, progress=False)
    assert together[0][0].text == alone.text
    # prefilled one prompt per forward (media inputs split by row) or the whole batch at once: same votes
    trio = [media_request, Request(text_prompt, "t"), Request(prompt, "m2", media=tuple(parts))]
    prefills: list[int] = []
    hook = model.register_forward_pre_hook(
        lambda _m, _a, kw: (
            prefills.append(kw["input_ids"].shape[0]) if kw["input_ids"].shape[1] > 1 else None
        ),
        with_kwargs=True,
    )
    try:
        by_row = Engine(model, tok, batch_size=3, packer=packer, prefill_tokens=1).generate(
            trio, params, progress=False
        )
    finally:
        hook.remove()
    assert prefills == [1, 1, 1]
    whole = Engine(model, tok, batch_size=3, packer=packer, prefill_tokens=None).generate(
        trio, params, progress=False
    )
    assert [v[0].text for v in by_row] == [v[0].text for v in whole]
    assert by_row[0][0].text == alone.text
    # a pooled request carries its own media sizes: packed at them beside one at the engine's own
    small = MediaSettings(image_max_pixels=56 * 56, video_max_pixels=56 * 56, video_fps=2.0, max_frames=6)
    assert packer.with_settings(None) is packer and packer.with_settings(small).settings == small
    widths: list[int] = []  # each prompt's packed length, one prefill per row
    hook = model.register_forward_pre_hook(
        lambda _m, _a, kw: widths.append(kw["input_ids"].shape[1]) if kw["input_ids"].shape[1] > 1 else None,
        with_kwargs=True,
    )
    try:
        for settings in (small, None):
            Engine(model, tok, batch_size=1, packer=packer.with_settings(settings)).generate(
                [media_request], params, progress=False
            )
        one_each = list(widths)
        widths.clear()
        pooler = Engine(model, tok, batch_size=2, packer=packer, prefill_tokens=1)
        pooled = pooler.generate(
            [Request(prompt, "s", media=tuple(parts), media_settings=small), media_request],
            params,
            progress=False,
        )
    finally:
        hook.remove()
    assert packer.settings == SETTINGS  # the engine's packer is left as it was
    assert one_each[0] < one_each[1]  # fewer image tokens at the smaller size
    assert sorted(widths) == sorted(one_each) and pooled[1][0].text == alone.text
    assert pooler.prompt_tokens == sum(one_each)  # media tokens counted as prompt tokens

    from flexjudge.data.media import load_part

    packed = packer.pack(
        tok(prompt, add_special_tokens=False)["input_ids"], [load_part(p, SETTINGS, "x") for p in parts]
    )
    x = torch.tensor([packed.input_ids])
    extra = {"mm_token_type_ids": torch.tensor([packed.token_types]).clamp(max=2)} if name == "vl" else {}
    with torch.inference_mode():
        out = model.generate(
            input_ids=x,
            attention_mask=torch.ones_like(x),
            **packed.media,
            **extra,
            max_new_tokens=8,
            do_sample=False,
            pad_token_id=tok.pad_token_id,
        )
    new = out[0, x.shape[1] :].tolist()
    new = new[: new.index(tok.eos_token_id) + 1] if tok.eos_token_id in new else new
    assert alone.text == tok.decode(new, skip_special_tokens=True)
    assert alone.n_tokens == len(new)
