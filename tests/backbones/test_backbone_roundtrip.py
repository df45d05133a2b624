"""Each tiny backbone class survives provision → one SFT step (frozen towers) → save → reload unchanged;
a trained Omni thinker goes back into the full Qwen2.5-Omni class and loads from there."""

from pathlib import Path

import pytest
import torch
from transformers import (
    LlamaForCausalLM,
    Qwen2_5_VLForConditionalGeneration,
    Qwen2_5OmniForConditionalGeneration,
    Qwen2_5OmniThinkerForConditionalGeneration,
    WhisperFeatureExtractor,
)

from conftest import stage_cfg
from flexjudge import REPO_ROOT
from flexjudge.backbones.checkpoints import save_checkpoint
from flexjudge.backbones.loader import freeze, load_judge, state_digest, write_manifest
from flexjudge.backbones.omni import save_full_omni
from flexjudge.training.sft import IGNORE, encode_chat

CLASSES = {
    "tiny_vl": Qwen2_5_VLForConditionalGeneration,
    "tiny_omni": Qwen2_5OmniThinkerForConditionalGeneration,
    "tiny_llama": LlamaForCausalLM,
}
CHAT = [
    {"role": "system", "content": "Judge the answer. Think first, then score 1-5."},
    {"role": "user", "content": "Question: what is 2 + 2?\nAnswer: 4"},
    {"role": "assistant", "content": "<think>\nThe answer is right.\n</think>\n<answer>5</answer>"},
]
PROBE = "<|im_start|>user\nIs the sky green?<|im_end|>\n<|im_start|>assistant\n"


@pytest.fixture(scope="module")
def provisioned(tmp_path_factory):
    """judge.json per tiny backbone, provisioned once for this module."""
    from flexjudge.provision import run

    tmp = tmp_path_factory.mktemp("roundtrip")
    return {name: run(stage_cfg("provision", tmp, f"backbone={name}")) for name in CLASSES}


def logits(model, tokenizer, text: str = PROBE) -> torch.Tensor:
    ids = tokenizer(text, add_special_tokens=False, return_tensors="pt")
    model.eval()
    with torch.no_grad():
        return model(**ids).logits


def sft_step(judge) -> list[str]:
    """One optimizer step on a text-only chat, loss on assistant tokens only; returns the frozen names."""
    model, tokenizer = judge.model, judge.tokenizer
    frozen = freeze(model, list(judge.manifest["frozen"]))
    example = encode_chat(tokenizer, CHAT, max_length=256, where="roundtrip")
    labels = torch.tensor([example["labels"]])
    assert (labels != IGNORE).sum() > 0 and labels[0, 0] == IGNORE  # prompt masked, answer supervised
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    loss = model(input_ids=torch.tensor([example["input_ids"]]), labels=labels).loss
    loss.backward()
    assert all(p.grad is None for n, p in model.named_parameters() if n in set(frozen))
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    model.eval()
    return frozen


@pytest.mark.parametrize("name", list(CLASSES))
def test_train_save_reload(name, provisioned, tmp_path):
    judge = load_judge(provisioned[name], device="cpu")
    assert type(judge.model) is CLASSES[name]
    expected_frozen = {"tiny_vl": ["model.visual"], "tiny_omni": ["model.audio_tower", "model.visual"]}
    assert judge.manifest["frozen"] == expected_frozen.get(name, [])
    before = {n: p.detach().clone() for n, p in judge.model.named_parameters()}
    frozen_names = [
        n
        for n, _ in judge.model.named_parameters()
        if any(n.startswith(f + ".") for f in judge.manifest["frozen"])
    ]
    digest = state_digest(judge.model, frozen_names)

    frozen = sft_step(judge)

    assert sorted(frozen) == sorted(frozen_names)
    assert state_digest(judge.model, frozen_names) == digest  # bit-identical
    after = dict(judge.model.named_parameters())
    changed = [n for n in before if n not in frozen and not torch.equal(before[n], after[n])]
    assert any(".layers.0.self_attn.q_proj.weight" in n for n in changed), changed
    assert any("embed_tokens" in n for n in changed)
    trained = logits(judge.model, judge.tokenizer)

    ckpt = save_checkpoint(
        judge.model, judge.tokenizer, tmp_path / "checkpoint", judge.image_processor, judge.feature_extractor
    )
    assert (ckpt / "model.safetensors").exists() and not list(ckpt.glob("*.bin"))
    manifest = write_manifest(
        tmp_path,
        **{**judge.manifest, "variant": "trained", "weights": str(ckpt)},
    )
    reloaded = load_judge(manifest, device="cpu")
    assert type(reloaded.model) is CLASSES[name]
    assert (reloaded.image_processor is None) == (judge.manifest["processor"] == "none")
    assert (reloaded.feature_extractor is not None) == ("audio" in judge.manifest["processor"])
    assert torch.equal(logits(reloaded.model, reloaded.tokenizer), trained)


def test_trained_thinker_round_trips_through_full_omni(provisioned, tmp_path):
    judge = load_judge(provisioned["tiny_omni"], device="cpu")
    sft_step(judge)
    trained = logits(judge.model, judge.tokenizer)
    out = save_full_omni(
        judge.model,
        judge.tokenizer,
        tmp_path / "full",
        image_processor=judge.image_processor,
        feature_extractor=judge.feature_extractor,
    )
    assert WhisperFeatureExtractor.from_pretrained(out).feature_size == 128
    assert {"model.safetensors", "spk_dict.pt", "config.json"} <= {p.name for p in Path(out).iterdir()}
    full = Qwen2_5OmniForConditionalGeneration.from_pretrained(out, dtype=torch.float32)
    assert full.has_talker and hasattr(full, "token2wav")
    state, ref = full.thinker.state_dict(), judge.model.state_dict()
    assert state.keys() == ref.keys()
    assert all(torch.equal(state[k], ref[k]) for k in ref)
    assert torch.equal(logits(full.thinker, judge.tokenizer), trained)


@pytest.mark.slow
@pytest.mark.network
def test_smollm2_in_omni_thinker_keeps_text_logits():
    """Real SmolLM2-135M inside the Omni thinker: text logits equal the plain model's."""
    from flexjudge.backbones.smollm2 import fetch_gguf, load_smollm2
    from flexjudge.provision import run

    root = REPO_ROOT / ".cache" / "test-results"
    manifest = root / "backbones" / "smollm2_omni" / "judge.json"
    if not manifest.exists():
        run(stage_cfg("provision", root, "backbone=smollm2_omni"))
    judge = load_judge(manifest, device="cpu")
    assert isinstance(judge.model, Qwen2_5OmniThinkerForConditionalGeneration)
    llm, llm_tok = load_smollm2(fetch_gguf(REPO_ROOT / ".cache" / "smollm2"))
    for text in (PROBE, "The capital of France is"):
        ids = judge.tokenizer(text, add_special_tokens=False, return_tensors="pt")
        assert torch.equal(
            ids["input_ids"], llm_tok(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
        )
        with torch.no_grad():
            a = llm(**ids).logits
            b = judge.model(**ids).logits
        assert (a - b[..., : a.shape[-1]]).abs().max().item() <= 1e-4


def test_twin_stage_moves_a_trained_llm_into_the_omni_thinker(provisioned, tmp_path):
    """A trained Qwen2.5-VL's LLM placed into its Omni-thinker twin gives the same text logits;
    the twin's audio tower and vision tower are its own."""
    from flexjudge.twin import run as twin

    judge = load_judge(provisioned["tiny_vl"], device="cpu")
    sft_step(judge)
    ckpt = save_checkpoint(
        judge.model, judge.tokenizer, tmp_path / "flex" / "checkpoint", judge.image_processor
    )
    source = write_manifest(tmp_path / "flex", **{**judge.manifest, "variant": "flex", "weights": str(ckpt)})
    summary = twin(
        stage_cfg(
            "twin",
            tmp_path,
            f"source={source}",
            f"base={provisioned['tiny_omni']}",
            f"out_dir={tmp_path / 'twin'}",
        )
    )
    assert summary["text_logit_max_diff"] <= 1e-4 and summary["tensors_copied"] > 0
    moved = load_judge(tmp_path / "twin" / "judge.json", device="cpu")
    assert (
        type(moved.model) is Qwen2_5OmniThinkerForConditionalGeneration
        and moved.manifest["variant"] == "flex"
    )
    assert moved.feature_extractor is not None
    trained = logits(judge.model, judge.tokenizer)
    assert torch.allclose(logits(moved.model, moved.tokenizer)[..., : trained.shape[-1]], trained, atol=1e-4)
    base = load_judge(provisioned["tiny_omni"], device="cpu")
    tower = {n: p for n, p in base.model.named_parameters() if n.startswith("model.audio_tower.")}
    assert tower and all(torch.equal(p, dict(moved.model.named_parameters())[n]) for n, p in tower.items())


class _Planted:
    """A pickle that, if it were ever unpickled without weights_only, would create a file."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


def test_a_planted_speaker_pickle_is_never_run(provisioned, tmp_path):
    """The full Omni checkpoint's spk_dict.pt is a pickle; a planted one is refused (weights_only loading)
    and its payload never runs."""
    import pickle

    judge = load_judge(provisioned["tiny_omni"], device="cpu")
    planted = tmp_path / "planted.pt"
    sentinel = tmp_path / "payload_ran"
    planted.write_bytes(pickle.dumps({"Chelsie": _Planted(sentinel)}))
    out = save_full_omni(judge.model, judge.tokenizer, tmp_path / "full", speakers=planted)
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        Qwen2_5OmniForConditionalGeneration.from_pretrained(out, dtype=torch.float32)
    assert not sentinel.exists()


def test_no_pickle_is_loaded_without_weights_only():
    """Our own code: every torch.load passes weights_only=True, and nothing imports pickle or joblib."""
    import ast

    from flexjudge import REPO_ROOT

    for path in (REPO_ROOT / "src").rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                assert not {"pickle", "joblib", "dill", "cloudpickle"} & set(names), path
            func = getattr(node, "func", None)
            if getattr(func, "attr", None) == "load" and getattr(func.value, "id", None) == "torch":
                kw = {k.arg: k.value for k in node.keywords}
                assert (
                    isinstance(kw.get("weights_only"), ast.Constant) and kw["weights_only"].value is True
                ), f"{path}:{node.lineno}: torch.load without weights_only=True"
