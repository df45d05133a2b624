"""Stage `import_judge`: the paper's "import judge". A fine-tuned judge's LLM is moved into a molecular LLM
(flexjudge.backbones.molecular.import_judge): every same-shape LLM tensor is copied except LoRA weights,
token embeddings come from the judge for every token both vocabularies share, and the rows of the tokens the
molecular model added (`<mol>`, pad), its LoRA, graph encoders, Q-Former and projector stay. The result is
checked: with its adapters off, its text logits equal the judge's on the shared tokens.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig

from flexjudge.backbones.twins import MAX_LOGIT_DIFF, PROBE
from flexjudge.core.app import stage_main, stage_run
from flexjudge.core.io import sha256_file, write_json

log = logging.getLogger(__name__)


@torch.no_grad()
def text_logit_diff(judge, mol) -> float:
    """Largest |logit difference| on a text probe between the judge and the molecular model with its adapters
    off, over the tokens both vocabularies share (by token string)."""
    from flexjudge.backbones.molecular import adapters_disabled

    ids = judge.tokenizer(PROBE, add_special_tokens=False, return_tensors="pt")["input_ids"]
    mol_ids = mol.tokenizer(PROBE, add_special_tokens=False, return_tensors="pt")["input_ids"]
    if not torch.equal(ids, mol_ids):
        raise ValueError(
            "the judge and the molecular model tokenize text differently; they do not share an LLM"
        )
    shared = sorted(set(judge.tokenizer.get_vocab()) & set(mol.tokenizer.get_vocab()))
    a_index = torch.tensor([judge.tokenizer.convert_tokens_to_ids(t) for t in shared])
    b_index = torch.tensor([mol.tokenizer.convert_tokens_to_ids(t) for t in shared])
    a = judge.model(input_ids=ids).logits[..., a_index]
    with adapters_disabled(mol.model):
        b = mol.model(input_ids=ids).logits[..., b_index]
    return (a - b).abs().max().item()


def run(cfg: DictConfig) -> dict[str, Any]:
    """Write out_dir/checkpoint (the molecular LLM carrying the judge's LLM), judge.json and import_report.json."""
    from flexjudge.backbones.checkpoints import save_checkpoint
    from flexjudge.backbones.loader import load_judge, write_manifest
    from flexjudge.backbones.molecular import import_judge

    out = Path(cfg.out_dir)
    with stage_run(cfg, "import_judge", torch_threads=True):
        judge = load_judge(cfg.source, device="cpu")
        mol = load_judge(cfg.base, device="cpu")
        summary = import_judge(judge.model, judge.tokenizer, mol.model, mol.tokenizer)
        diff = text_logit_diff(judge, mol)
        if diff > MAX_LOGIT_DIFF:
            raise RuntimeError(f"after the import the text logits differ from the judge's by {diff:.2e}")
        summary = {**summary, "text_logit_max_diff": diff, "source_judge": str(cfg.source)}
        ckpt = save_checkpoint(mol.model, mol.tokenizer, out / "checkpoint", None, None)
        write_manifest(
            out,
            **{k: v for k, v in mol.manifest.items() if k not in ("weights", "variant", "provenance")},
            variant=judge.manifest["variant"],
            weights=str(ckpt),
            weights_sha256=sha256_file(ckpt / "model.safetensors"),
            sft_data=judge.manifest.get("sft_data"),
            sft_provenance=judge.manifest.get("sft_provenance"),
            training={**judge.manifest.get("training", {}), "import_judge": summary},
        )
        write_json(out / "import_report.json", summary)
    log.info("import_judge: %s", summary)
    return summary


main = stage_main("import_judge")(run)

if __name__ == "__main__":
    main()
