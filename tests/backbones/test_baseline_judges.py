"""The paper's open baseline judges' classes on our engine (tiny random models of the same classes):
LLaVA-1.5 (Prometheus-Vision) and LLaVA-OneVision (LLaVA-Critic). Each loads from its provisioned
checkpoint, packs an image to the number of tokens its vision tower gives, judges like transformers'
own generate, and runs through evaluate in its own format with every unparsed vote counted."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import stage_cfg
from flexjudge.backbones.inputs import MediaSettings
from flexjudge.backbones.loader import load_judge
from flexjudge.data.media import load_part

BASELINES = {"tiny_llava": "prometheus_vision", "tiny_llava_ov": "llava_critic"}


@pytest.fixture(scope="module")
def judges(tmp_path_factory):
    from flexjudge.provision import run as provision

    tmp = tmp_path_factory.mktemp("baselines")
    return {name: provision(stage_cfg("provision", tmp, f"backbone={name}")) for name in BASELINES}


def _picture(tmp_path, width, height, seed):
    rng = np.random.default_rng(seed)
    path = tmp_path / f"p{seed}.png"
    Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)).save(path)
    return {"type": "image", "path": str(path)}


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_an_image_becomes_as_many_tokens_as_the_tower_gives(judges, tmp_path, name):
    judge = load_judge(judges[name], device="cpu")
    assert type(judge.model).__name__ == judge.manifest["model_class"]
    packer = judge.media_packer(MediaSettings())
    image_id = judge.model.config.image_token_index
    prompt = judge.tokenizer.apply_chat_template(
        [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Is it red?"}]}],
        tokenize=False,
        add_generation_prompt=True,
    )
    ids = judge.tokenizer(prompt, add_special_tokens=False)["input_ids"]
    assert ids.count(image_id) == 1
    for width, height in ((28, 28), (60, 30)):  # OneVision tiles a wide image differently
        part = _picture(tmp_path, width, height, width)
        packed = packer.pack(ids, [load_part(part, packer.settings, "x")])
        n = packed.input_ids.count(image_id)
        with torch.inference_mode():
            features = judge.model.model.get_image_features(
                pixel_values=packed.media["pixel_values"],
                **({"image_sizes": packed.media["image_sizes"]} if "image_sizes" in packed.media else {}),
                vision_feature_layer=judge.model.config.vision_feature_layer,
                vision_feature_select_strategy=judge.model.config.vision_feature_select_strategy,
            )
        feats = features.pooler_output if hasattr(features, "pooler_output") else features
        assert n == sum(f.shape[0] for f in feats) > 1
        assert packed.positions is None  # 1-D positions, not M-RoPE


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_the_engine_judges_a_baseline_like_plain_generate(judges, tmp_path, name):
    from flexjudge.generate.engine import Request, SamplingParams
    from flexjudge.generate.hf import Engine
    from flexjudge.protocol.baselines import baseline_format

    judge = load_judge(judges[name], device="cpu")
    fmt = baseline_format(BASELINES[name], "score", None, True)
    image = _picture(tmp_path, 40, 30, 1)
    messages = fmt.messages("What is shown?", ["Noise."], media=[image])
    prompt = judge.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    packer = judge.media_packer(MediaSettings())
    params = SamplingParams(max_new_tokens=8)
    engine = Engine(judge.model, judge.tokenizer, batch_size=2, packer=packer)
    alone = engine.generate([Request(prompt, "m", media=(image,))], params, progress=False)[0][0]
    text = judge.tokenizer.apply_chat_template(
        [{"role": "user", "content": "Is 2 > 1?"}], tokenize=False, add_generation_prompt=True
    )
    together = engine.generate(
        [Request(prompt, "m", media=(image,)), Request(text, "t")], params, progress=False
    )
    assert together[0][0].text == alone.text
    packed = packer.pack(
        judge.tokenizer(prompt, add_special_tokens=False)["input_ids"],
        [load_part(image, packer.settings, "x")],
    )
    x = torch.tensor([packed.input_ids])
    with torch.inference_mode():
        out = judge.model.generate(
            input_ids=x,
            attention_mask=torch.ones_like(x),
            **packed.media,
            max_new_tokens=8,
            do_sample=False,
            pad_token_id=judge.tokenizer.pad_token_id,
        )
    new = out[0, x.shape[1] :].tolist()
    new = new[: new.index(judge.tokenizer.eos_token_id) + 1] if judge.tokenizer.eos_token_id in new else new
    assert alone.text == judge.tokenizer.decode(new, skip_special_tokens=True)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "benchmark", "fmt"),
    [("tiny_llava_ov", "mllm_judge_pair", "critic_pair"), ("tiny_llava", "mllm_judge_score", "prometheus")],
)
def test_a_baseline_judges_a_benchmark_in_its_own_format(judges, tmp_path, name, benchmark, fmt):
    """evaluate with the baseline's backbone config: its own format (no <think> opening), each vote parsed
    by its marker or counted as a failure by reason, the same metrics as any judge."""
    from flexjudge.core.io import read_jsonl
    from flexjudge.evaluate import run
    from flexjudge.minis import run as minis
    from flexjudge.protocol.baselines import baseline_format

    minis(stage_cfg("minis", tmp_path, "family=mllm_judge", f"out_dir={tmp_path / 'minis'}", "n_items=4"))
    record = run(
        stage_cfg(
            "evaluate",
            tmp_path,
            f"backbone={name}",
            f"judge={judges[name]}",
            f"benchmark={benchmark}",
            f"paths.benchmarks={tmp_path / 'minis'}",
            "limit=3",
            "max_new_tokens=12",
            "bootstrap=0",
        )
    )
    assert record["judge_format"] == fmt and any(BASELINES[name] in d for d in record["protocol_deviations"])
    rows = read_jsonl(next((tmp_path / "eval").rglob("predictions.jsonl")))
    own = baseline_format(BASELINES[name], "pair_scores" if fmt == "critic_pair" else "score", None, True)
    for row in rows:
        for vote in row["votes"]:
            assert not vote["text"].startswith("<think>")
            parsed = own.parse(vote["text"])
            assert vote["failure"] == (parsed.failure.value if parsed.failure else None)
    votes = [v for r in rows for v in r["votes"]]
    assert record["metrics"]["parse_failure_rate"] == sum(v["failure"] is not None for v in votes) / len(
        votes
    )
