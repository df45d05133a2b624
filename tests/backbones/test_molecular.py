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


def mol_model():
    llm, tok = tiny_llama(seed=3)
    plain = {k: v.clone() for k, v in llm.state_dict().items()}
    return place_llm_in_mol_llm(llm, tok, graph=GRAPH, seed=0), tok, plain


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
    judge, judge_tok = tiny_qwen2_5_vl(seed=5)
    with torch.no_grad():
        for name, p in judge.model.language_model.named_parameters():
            if not name.endswith("proj.bias"):  # q/k/v biases stay zero, as our SFT keeps them
                p.add_(0.01 * torch.randn_like(p))  # a "fine-tuned" judge, unlike the molecular model's LLM
    model, tok, _ = mol_model()
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
