"""The molecular LLM (flexjudge.backbones.molecular): 8 `<mol>` embeddings per molecule with a clear error on
a mismatch, text logits equal to the LLM it was built from, and import-judge (text logits equal the judge's,
the molecular model's own parts unchanged)."""

import pytest
import torch

from flexjudge.backbones.molecular import MOL_TOKEN, adapters_disabled, import_judge, place_llm_in_mol_llm
from flexjudge.backbones.tiny import tiny_llama, tiny_qwen2_5_vl
from flexjudge.data.molecules import collate_molecules, featurize

GRAPH = dict(graph_hidden=16, gin_layers=1, geometry_layers=1, rbf=8, qformer_heads=2, lora_r=4)
TEXT = "Which reply is better? Think step by step."


def mol_model(attention_bias=False):
    llm, tok = tiny_llama(seed=3)
    plain = {k: v.clone() for k, v in llm.state_dict().items()}
    model = place_llm_in_mol_llm(llm, tok, graph=GRAPH, attention_bias=attention_bias, seed=0)
    return model, tok, plain


def fine_tuned_judge():
    """A tiny Qwen2.5-VL judge whose LLM (q/k/v biases included, as SFT moves them) left SmolLM2-like zeros."""
    judge, judge_tok = tiny_qwen2_5_vl(seed=5)
    with torch.no_grad():
        for _, p in judge.model.language_model.named_parameters():
            p.add_(0.01 * torch.randn_like(p))
    return judge, judge_tok


def molecule_prompt(tok, smiles):
    ids = tok("Is it active? ", add_special_tokens=False)["input_ids"]
    mol = tok.convert_tokens_to_ids(MOL_TOKEN)
    return torch.tensor([ids + [mol] * 8]), collate_molecules([featurize(smiles)])


def test_text_logits_equal_the_llm_it_was_built_from():
    model, tok, _ = mol_model()
    llm, _ = tiny_llama(seed=3)
    ids = tok(TEXT, add_special_tokens=False, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        a = llm(input_ids=ids).logits
        b = model(input_ids=ids).logits[..., : a.shape[-1]]
    assert (a - b).abs().max().item() <= 1e-5


def test_exactly_eight_mol_embeddings_per_molecule():
    model, tok, _ = mol_model()
    ids, graphs = molecule_prompt(tok, "CCO")
    with torch.no_grad():
        one = model(input_ids=ids, **graphs).logits
        other = model(input_ids=ids, **collate_molecules([featurize("c1ccccc1O")])).logits
        with pytest.raises(ValueError, match=r"7 <mol> tokens for 1 molecule.*exactly 8"):
            model(input_ids=ids[:, :-1], **graphs)
        with pytest.raises(ValueError, match="8 <mol> tokens for 0 molecule"):
            model(input_ids=ids)
    assert not torch.allclose(one[:, -1], other[:, -1])  # the molecule reaches the LLM


def test_import_judge_copies_the_llm_and_keeps_the_molecular_parts():
    judge, judge_tok = fine_tuned_judge()
    model, tok, _ = mol_model(attention_bias=True)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_()  # the molecular model's own trained LoRA
    mol_id = tok.convert_tokens_to_ids(MOL_TOKEN)
    own = {
        n: p.clone()
        for n, p in model.named_parameters()
        if not n.startswith("language_model.") or "lora_" in n
    }
    kept_row = model.get_input_embeddings().weight[mol_id].clone()
    summary = import_judge(judge, judge_tok, model, tok)
    assert summary["rows_kept"] >= 1 and summary["tensors_copied"] > 0
    for n, p in model.named_parameters():
        if n in own:
            assert torch.equal(p, own[n]), n
    assert torch.equal(model.get_input_embeddings().weight[mol_id], kept_row)
    ids = judge_tok(TEXT, add_special_tokens=False, return_tensors="pt")["input_ids"]
    shared = sorted(set(judge_tok.get_vocab()) & set(tok.get_vocab()))
    a_idx = torch.tensor([judge_tok.convert_tokens_to_ids(t) for t in shared])
    b_idx = torch.tensor([tok.convert_tokens_to_ids(t) for t in shared])
    with torch.no_grad():
        a = judge(input_ids=ids).logits[..., a_idx]
        with adapters_disabled(model):
            b = model(input_ids=ids).logits[..., b_idx]
        c = model(input_ids=ids).logits[..., b_idx]
    assert (a - b).abs().max().item() <= 1e-5
    assert (a - c).abs().max().item() > 1e-4  # with its LoRA on, the molecular model is its own


def test_attention_biases_need_a_biased_molecular_llm():
    judge, judge_tok = fine_tuned_judge()
    model, tok, _ = mol_model(attention_bias=False)
    with pytest.raises(ValueError, match="non-zero attention biases.*attention_bias: true"):
        import_judge(judge, judge_tok, model, tok)
    biased, _, _ = mol_model(attention_bias=True)
    llm, _ = tiny_llama(seed=3)
    ids = tok(TEXT, add_special_tokens=False, return_tensors="pt")["input_ids"]
    with torch.no_grad():  # zero biases: the biased molecular LLM still equals the plain LLM
        a = llm(input_ids=ids).logits
        b = biased(input_ids=ids).logits[..., : a.shape[-1]]
    assert (a - b).abs().max().item() <= 1e-5


def test_import_judge_refuses_another_llm_shape():
    judge, judge_tok = tiny_qwen2_5_vl(seed=5)
    llm, tok = tiny_llama(seed=3)
    llm.config.intermediate_size = 48
    from transformers import LlamaForCausalLM

    other = place_llm_in_mol_llm(LlamaForCausalLM(llm.config), tok, graph=GRAPH)
    with pytest.raises(ValueError, match="shape"):
        import_judge(judge, judge_tok, other, tok)


def test_save_and_load_round_trip(tmp_path):
    from flexjudge.backbones.molecular import MolLLMForCausalLM

    model, tok, _ = mol_model()
    ids, graphs = molecule_prompt(tok, "CCN")
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists() and not list(tmp_path.glob("*.bin"))
    again = MolLLMForCausalLM.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        assert torch.allclose(
            model(input_ids=ids, **graphs).logits, again(input_ids=ids, **graphs).logits, atol=1e-6
        )


def test_engine_judges_molecules_like_plain_generate():
    """Greedy votes of a request with a molecule part equal transformers' own generate on the packed inputs,
    alone and batched with a text-only request; another molecule changes the logits the engine starts from."""
    from flexjudge.backbones.inputs import MediaPacker, MediaSettings
    from flexjudge.data.media import load_part
    from flexjudge.generate.engine import Request, SamplingParams
    from flexjudge.generate.hf import Engine

    model, tok, _ = mol_model(attention_bias=True)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(std=0.1)  # LoRA on, so generation runs through the adapters too
    packer = MediaPacker(model)

    def chat(content):
        return tok.apply_chat_template(
            [{"role": "user", "content": content}], tokenize=False, add_generation_prompt=True
        )

    part = {"type": "molecule", "smiles": "CC(=O)Nc1ccc(O)cc1"}
    prompt = chat([part, {"type": "text", "text": "Is this molecule permeable?"}])
    assert prompt.count(MOL_TOKEN) == 1
    params = SamplingParams(max_new_tokens=8)
    engine = Engine(model, tok, batch_size=2, packer=packer)
    request = Request(prompt, "m", media=(part,))
    alone = engine.generate([request], params, progress=False)[0][0]
    together = engine.generate([request, Request(chat("Is 2 > 1?"), "t")], params, progress=False)
    assert together[0][0].text == alone.text

    packed = packer.pack(
        tok(prompt, add_special_tokens=False)["input_ids"], [load_part(part, MediaSettings(), "x")]
    )
    assert packed.input_ids.count(tok.convert_tokens_to_ids(MOL_TOKEN)) == 8 and packed.positions is None
    x = torch.tensor([packed.input_ids])
    with torch.inference_mode():
        out = model.generate(
            input_ids=x,
            attention_mask=torch.ones_like(x),
            **packed.media,
            max_new_tokens=8,
            do_sample=False,
            pad_token_id=tok.pad_token_id,
        )
        other = load_part({"type": "molecule", "smiles": "CCCCCCCCCC"}, MediaSettings(), "y")
        a = model(input_ids=x, **packed.media).logits[0, -1]
        b = model(
            input_ids=x,
            **packer.pack(tok(prompt, add_special_tokens=False)["input_ids"], [other]).media,
        ).logits[0, -1]
    new = out[0, x.shape[1] :].tolist()
    new = new[: new.index(tok.eos_token_id) + 1] if tok.eos_token_id in new else new
    assert alone.text == tok.decode(new, skip_special_tokens=True)
    assert alone.n_tokens == len(new)
    assert not torch.allclose(a, b)


def test_molecule_parts_fail_clearly():
    from flexjudge.backbones.inputs import MediaPacker, MediaSettings
    from flexjudge.core.io import DataError
    from flexjudge.data.media import load_part

    with pytest.raises(DataError, match=r"row 3: .*needs a non-empty SMILES"):
        load_part({"type": "molecule"}, MediaSettings(), "row 3")
    with pytest.raises(DataError, match="row 4"):
        load_part({"type": "molecule", "smiles": "C1CC(("}, MediaSettings(), "row 4")
    text_only, tok = tiny_llama(seed=1)
    packer = MediaPacker(text_only)
    with pytest.raises(DataError, match="placeholders"):
        packer.pack(
            tok("hi", add_special_tokens=False)["input_ids"],
            [load_part({"type": "molecule", "smiles": "CCO"}, MediaSettings(), "r")],
        )


def test_the_8b_config_builds_with_the_same_classes_at_tiny_size(tmp_path):
    """conf/backbone/mol_llama_8b.yaml around a local Llama folder (a tiny one here, the user's
    Llama-3.1-8B-Instruct on a GPU): provisioned, loaded by its manifest, text logits equal the LLM's."""
    from flexjudge.backbones.loader import load_judge
    from flexjudge.backbones.recipes import provision_backbone
    from flexjudge.core.app import compose

    llm, tok = tiny_llama(seed=3)
    llm.save_pretrained(tmp_path / "llama")
    tok.save_pretrained(tmp_path / "llama")
    tiny = [f"backbone.mol_llm.{k}={v}" for k, v in GRAPH.items()] + ["backbone.mol_llm.qformer_layers=1"]
    cfg = compose(
        "provision",
        [f"paths.results={tmp_path}", f"out_dir={tmp_path}/b", "logger=none", "backbone=mol_llama_8b"]
        + [f"backbone.path={tmp_path / 'llama'}", "backbone.dtype=float32", *tiny],
    )
    judge = load_judge(provision_backbone(cfg, tmp_path / "b"), device="cpu")
    assert type(judge.model).__name__ == "MolLLMForCausalLM" and judge.manifest["processor"] == "molecule"
    assert not judge.model.config.text_config.attention_bias  # a Llama judge imports without biases
    ids = tok(TEXT, add_special_tokens=False, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        a = llm(input_ids=ids).logits
        b = judge.model(input_ids=ids).logits[..., : a.shape[-1]]
    assert (a - b).abs().max().item() <= 1e-5
    with pytest.raises(FileNotFoundError, match="needs backbone.path"):
        provision_backbone(
            compose("provision", [f"out_dir={tmp_path}/c", "backbone=mol_llama_8b"]), tmp_path / "c"
        )


def test_a_gguf_llm_places_as_a_plain_serialisable_model(tmp_path):
    """SmolLM2 comes from a GGUF, whose config carries a quantization_config: the molecular LLM must not
    inherit it, or its checkpoint loads as a quantised model that cannot be saved again."""
    from flexjudge.backbones.molecular import MolLLMForCausalLM

    llm, tok = tiny_llama(seed=3)
    llm.config.quantization_config = {"quant_method": "gguf"}
    model = place_llm_in_mol_llm(llm, tok, graph=GRAPH)
    assert "quantization_config" not in model.config.text_config.to_dict()
    model.save_pretrained(tmp_path / "a")
    MolLLMForCausalLM.from_pretrained(tmp_path / "a").save_pretrained(tmp_path / "b")
