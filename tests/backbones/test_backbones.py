import json

import pytest
import torch
from transformers import LlamaForCausalLM, Qwen2_5_VLForConditionalGeneration

from flexjudge.backbones.chat_template import AUDIO_TOKENS, VISION_TOKENS
from flexjudge.backbones.configs import TINY_AUDIO, TINY_VISION, mrope_section
from flexjudge.backbones.loader import freeze, load_judge, model_class, read_manifest, state_digest
from flexjudge.backbones.placement import place_llm_in_qwen2_5_omni_thinker, place_llm_in_qwen2_5_vl
from flexjudge.backbones.tiny import tiny_llama_config, tiny_qwen2_5_omni_thinker, tiny_tokenizer
from flexjudge.core.app import CONF_DIR, compose
from flexjudge.generate.engine import SamplingParams
from flexjudge.generate.hf import generate
from flexjudge.protocol.formats import PairScores
from flexjudge.protocol.prompts import render_prompt

PROMPT = PairScores().messages("Human: How do I boil an egg?", ["Boil it for eight minutes.", "No."])


def test_mrope_section_sums_to_half_head_dim():
    assert mrope_section(64) == [8, 12, 12]
    assert mrope_section(128) == [16, 24, 24]  # Qwen2.5-VL-7B's own split
    assert sum(mrope_section(16)) == 8


def test_llm_placed_in_qwen2_5_vl_keeps_text_logits():
    tok = tiny_tokenizer()
    torch.manual_seed(0)
    llm = LlamaForCausalLM(tiny_llama_config(tok)).eval()
    n_before = len(tok)
    vl = place_llm_in_qwen2_5_vl(
        llm,
        tok,
        vision=dict(depth=1, hidden_size=16, intermediate_size=32, num_heads=1, fullatt_block_indexes=[0]),
    )
    assert len(tok) == n_before  # the tiny tokenizer already has the media tokens
    text = render_prompt(tok, PROMPT, prefill_think=True)
    ids = tok(text, add_special_tokens=False, return_tensors="pt")
    with torch.no_grad():
        a = llm(**ids).logits
        b = vl(**ids).logits
    assert b.shape[-1] >= a.shape[-1]
    assert (a - b[..., : a.shape[-1]]).abs().max().item() <= 1e-5
    assert vl.config.text_config.rope_parameters["rope_theta"] == 100000.0


def test_llm_placed_in_qwen2_5_omni_thinker_keeps_text_logits():
    tok = tiny_tokenizer()
    torch.manual_seed(0)
    llm = LlamaForCausalLM(tiny_llama_config(tok)).eval()
    n_before = len(tok)
    thinker = place_llm_in_qwen2_5_omni_thinker(llm, tok, vision=TINY_VISION, audio=TINY_AUDIO)
    assert len(tok) == n_before + len(AUDIO_TOKENS)  # audio tokens added, vision tokens already there
    assert set(AUDIO_TOKENS) <= set(tok.get_vocab())
    ids = tok(render_prompt(tok, PROMPT, prefill_think=True), add_special_tokens=False, return_tensors="pt")
    with torch.no_grad():
        a = llm(**ids).logits
        b = thinker(**ids).logits
    assert (a - b[..., : a.shape[-1]]).abs().max().item() <= 1e-5
    cfg = thinker.config
    assert cfg.audio_token_id == tok.convert_tokens_to_ids("<|AUDIO|>")
    assert cfg.audio_start_token_id == tok.convert_tokens_to_ids("<|audio_bos|>")
    assert cfg.image_token_id == tok.convert_tokens_to_ids("<|image_pad|>")
    assert cfg.text_config.rope_parameters["rope_theta"] == 100000.0


def test_tiny_omni_thinker_module_names_match_its_config():
    thinker, tok = tiny_qwen2_5_omni_thinker()
    assert [n for n, _ in thinker.model.named_children()] == ["audio_tower", "visual", "language_model"]
    frozen = compose("provision", ["backbone=tiny_omni"]).backbone.frozen
    names = freeze(thinker, list(frozen))
    assert {n.split(".")[1] for n in names} == {"audio_tower", "visual"}
    assert all(t in tok.get_vocab() for t in (*VISION_TOKENS, *AUDIO_TOKENS))


def test_backbone_configs_share_keys():
    names = sorted(p.stem for p in (CONF_DIR / "backbone").glob("*.yaml"))
    keys = {n: set(compose("provision", [f"backbone={n}"]).backbone) for n in names}
    assert len({frozenset(k) for k in keys.values()}) == 1, keys
    for n in names:
        bb = compose("provision", [f"backbone={n}"]).backbone
        assert bb.processor in ("image", "image_only", "image+audio", "molecule", "none")
        # the LLaVA classes (the baseline judges') take still images only, and are judged in their own format
        assert (bb.processor == "image_only") == ("Llava" in bb.model_class) == (bb.baseline is not None)
        assert isinstance(bb.lora, bool) and bb.lora == (n == "qwen2_5_vl_32b")
        assert (bb.processor == "none") == (bb.model_class in ("LlamaForCausalLM", "Qwen2ForCausalLM"))
        assert (
            (bb.processor == "molecule")
            == (bb.model_class == "MolLLMForCausalLM")
            == (bb.mol_llm is not None)
        )


def test_provisioned_tiny_checkpoint(tiny_manifest):
    manifest = read_manifest(tiny_manifest)
    ckpt = manifest["weights"]
    files = {p.name for p in __import__("pathlib").Path(ckpt).iterdir()}
    assert "model.safetensors" in files and not any(f.endswith((".bin", ".pt", ".pkl")) for f in files)
    assert "chat_template.jinja" in files and "preprocessor_config.json" in files
    judge = load_judge(tiny_manifest, device="cpu")
    assert isinstance(judge.model, Qwen2_5_VLForConditionalGeneration)
    assert judge.image_processor is not None
    assert json.loads(tiny_manifest.read_text())["weights"] == "checkpoint"  # relative: results can move


def test_left_padded_batch_matches_single_prompt_greedy(tiny_manifest):
    judge = load_judge(tiny_manifest, device="cpu")
    short = render_prompt(judge.tokenizer, PairScores().messages("Human: hi", ["hello", "bye"]), True)
    long = render_prompt(judge.tokenizer, PROMPT, True)
    params = SamplingParams(max_new_tokens=12)
    batched = generate(judge.model, judge.tokenizer, [short, long], params, batch_size=2, progress=False)
    alone = [
        generate(judge.model, judge.tokenizer, [p], params, batch_size=1, progress=False)[0]
        for p in (short, long)
    ]
    assert [g[0].text for g in batched] == [g[0].text for g in alone]
    assert all(g[0].n_tokens <= 12 for g in batched)


def test_k_samples_are_seeded(tiny_manifest):
    judge = load_judge(tiny_manifest, device="cpu")
    prompt = render_prompt(judge.tokenizer, PROMPT, True)
    params = SamplingParams(max_new_tokens=8, temperature=1.0, top_p=1.0, n=3, seed=5)
    a = generate(judge.model, judge.tokenizer, [prompt], params, progress=False)[0]
    b = generate(judge.model, judge.tokenizer, [prompt], params, progress=False)[0]
    assert len(a) == 3 and [g.text for g in a] == [g.text for g in b]
    assert len({g.text for g in a}) > 1


def test_freeze_and_digest(tiny_manifest):
    model = load_judge(tiny_manifest, device="cpu").model
    names = freeze(model, ["model.visual"])
    assert names and all(n.startswith("model.visual.") for n in names)
    assert not any(p.requires_grad for n, p in model.named_parameters() if n in names)
    assert all(p.requires_grad for n, p in model.named_parameters() if n not in names)
    before = state_digest(model, names)
    with torch.no_grad():
        dict(model.named_parameters())[names[0]].add_(1e-7)
    assert state_digest(model, names) != before
    with pytest.raises(ValueError, match="matches no parameter"):
        freeze(model, ["model.audio_tower"])


def test_unknown_model_class_is_refused():
    with pytest.raises(ValueError, match="not supported"):
        model_class("os.system")
