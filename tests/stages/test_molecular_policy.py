"""The paper's arrangement, a molecular LLM as the policy (tiny_mol): it answers with each molecule as <mol>
embeddings, and DPO on pairs of its answers trains its LoRA adapters only (the LLM's base weights, encoders,
Q-Former and projector bit-identical), from stage entry points as the DAG runs them."""

from __future__ import annotations

import torch

from conftest import stage_cfg
from flexjudge.backbones.loader import load_judge
from flexjudge.core.io import read_jsonl, write_jsonl
from flexjudge.data.molecules import read_molecules


def test_a_molecular_policy_answers_and_dpo_trains_its_lora(tmp_path):
    from flexjudge.dpo import run as dpo
    from flexjudge.moldata import run as moldata
    from flexjudge.policy import run as policy
    from flexjudge.provision import run as provision

    manifest = provision(stage_cfg("provision", tmp_path, "backbone=tiny_mol"))
    moldata(stage_cfg("moldata", tmp_path, "train_size=4", "test_size=4"))
    data = tmp_path / "molecules" / "chembl_activity" / "data"
    out = tmp_path / "answers"
    report = policy(
        stage_cfg(
            "policy",
            tmp_path,
            f"policy={manifest}",
            f"molecules={data / 'train.csv'}",
            "n=2",
            "temperature=1.0",
            "max_new_tokens=8",
            "final_tokens=4",
            f"out_dir={out}",
        )
    )
    answers = read_jsonl(out / "answers.jsonl")
    assert report["molecules"] == 4 and len(answers) == 8 and report["votes_generated"] == 8
    assert report["molecule_part"] is True
    smiles = {str(r["Drug_ID"]): r["Drug"] for r in read_molecules(data / "train.csv")}
    by_id: dict[str, list[dict]] = {}
    for a in answers:
        by_id.setdefault(str(a["Drug_ID"]), []).append(a)
    pairs = [
        {
            "Drug_ID": i,
            "prompt": two[0]["prompt"],
            "smiles": smiles[i],
            "chosen": two[0]["response"] + " Final answer: active",
            "rejected": two[1]["response"] + " Final answer: inactive",
        }
        for i, two in by_id.items()
    ]
    write_jsonl(tmp_path / "pairs" / "flex" / "pairs.jsonl", pairs)

    before = {n: p.detach().clone() for n, p in load_judge(manifest, device="cpu").model.named_parameters()}
    trained = dpo(
        stage_cfg(
            "dpo",
            tmp_path,
            f"policy={manifest}",
            f"pairs={tmp_path / 'pairs' / 'flex' / 'pairs.jsonl'}",
            "dpo.epochs=2",
            "dpo.lr=1e-3",
            "dpo.max_length=384",
            f"out_dir={tmp_path / 'dpo'}",
        )
    )
    assert trained["parameters"]["what"] == "LoRA adapters" and trained["steps"] > 0
    after = dict(load_judge(tmp_path / "dpo" / "judge.json", device="cpu").model.named_parameters())
    assert before.keys() == after.keys()
    changed = {n for n in before if not torch.equal(before[n], after[n])}
    assert changed and all("lora_" in n for n in changed), sorted(changed)[:5]
    assert any("lora_B" in n for n in changed)
