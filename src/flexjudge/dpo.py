"""Stage `dpo`: the policy trained by DPO on a judge's preference pairs (flexjudge.training.dpo: sigmoid loss,
a frozen copy of the policy as reference). Each pair's prompt is rebuilt exactly as the policy stage asked it
(the molecule part, the SMILES, the question, the chat template), so the policy learns on its own inputs;
chosen and rejected are the two whole answers. A molecular policy trains its LoRA adapters (the LLM's base
weights, graph encoders, Q-Former and projector frozen); a policy without adapters trains its whole LLM.
Writes out_dir/checkpoint (safetensors), judge.json (a policy the policy stage loads) and dpo_report.json.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from flexjudge.apply.policy import policy_messages
from flexjudge.backbones.loader import takes_molecules
from flexjudge.core.app import stage_main, stage_run
from flexjudge.core.io import DataError, read_jsonl, sha256_file, write_json

log = logging.getLogger(__name__)


def pair_examples(
    policy, pairs: list[dict[str, Any]], *, molecule_part: bool, smiles_in_text: bool
) -> list[dict]:
    """DPO examples {prompt_ids, chosen_ids, rejected_ids, media} from pairs {prompt, smiles, chosen, rejected}."""
    from flexjudge.data.media import load_part
    from flexjudge.protocol.prompts import render_prompt

    tok = policy.tokenizer
    packer = policy.media_packer() if molecule_part else None
    examples = []
    for i, p in enumerate(pairs):
        for key in ("prompt", "smiles", "chosen", "rejected"):
            if not isinstance(p.get(key), str):
                raise DataError(f"pairs[{i}]: field {key!r} is missing or not text")
        chat, parts = policy_messages(
            p["prompt"], p["smiles"], molecule_part=molecule_part, smiles_in_text=smiles_in_text
        )
        ids = tok(render_prompt(tok, chat, False), add_special_tokens=False)["input_ids"]
        media: dict[str, Any] = {}
        if packer is not None:
            packed = packer.pack(ids, [load_part(part, packer.settings, f"pairs[{i}]") for part in parts])
            ids, media = packed.input_ids, packed.media
        end = [tok.eos_token_id]
        examples.append(
            {
                "prompt_ids": list(ids),
                "chosen_ids": tok(p["chosen"], add_special_tokens=False)["input_ids"] + end,
                "rejected_ids": tok(p["rejected"], add_special_tokens=False)["input_ids"] + end,
                "media": media,
            }
        )
    return examples


def trainable(model) -> dict[str, int]:
    """Train LoRA adapters where the model has them, else everything; returns parameter counts."""
    names = [n for n, _ in model.named_parameters()]
    lora = [n for n in names if "lora_" in n]
    for n, p in model.named_parameters():
        p.requires_grad_(bool(n in lora) if lora else True)
    return {
        "trained": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "total": sum(p.numel() for p in model.parameters()),
        "what": "LoRA adapters" if lora else "all parameters",
    }


def run(cfg: DictConfig) -> dict[str, Any]:
    from flexjudge.backbones.checkpoints import save_checkpoint
    from flexjudge.backbones.loader import load_judge, write_manifest
    from flexjudge.training.dpo import train_dpo

    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with stage_run(cfg, "dpo", seed=True, torch_threads=True) as st:
        policy = load_judge(cfg.policy, device="cpu")
        pairs = read_jsonl(cfg.pairs)
        molecule_part = takes_molecules(policy.manifest, cfg.molecule_part)
        examples = pair_examples(
            policy, pairs, molecule_part=molecule_part, smiles_in_text=cfg.smiles_in_text
        )
        params = trainable(policy.model)
        if examples:
            summary = train_dpo(
                policy.model, policy.tokenizer, examples, cfg.dpo, out_dir=out / "train", tracker=st.tracker
            )
        else:  # a judge that kept no pair leaves the policy as it was (reported, not hidden)
            summary = {"steps": 0, "note": "no preference pairs: the policy is saved unchanged"}
        policy.model.eval()
        ckpt = save_checkpoint(
            policy.model, policy.tokenizer, out / "checkpoint", policy.image_processor, None
        )
        report = {"pairs": len(pairs), "parameters": params, **summary, "policy": str(cfg.policy)}
        write_manifest(
            out,
            **{k: v for k, v in policy.manifest.items() if k not in ("weights", "variant", "provenance")},
            variant=f"dpo:{Path(cfg.pairs).parent.name}",
            weights=str(ckpt),
            weights_sha256=sha256_file(ckpt / "model.safetensors"),
            training={"dpo": {k: v for k, v in report.items() if k != "history"}},
        )
        write_json(out / "dpo_report.json", report)
    log.info("dpo: %s", {k: v for k, v in report.items() if k != "history"})
    return report


main = stage_main("dpo")(run)

if __name__ == "__main__":
    main()
