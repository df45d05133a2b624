"""Stage `twin`: put a fine-tuned judge's LLM into its twin backbone (e.g. SmolLM2 fine-tuned inside
Qwen2.5-VL → the same LLM inside the Qwen2.5-Omni thinker, to judge audio).

The SFT data are text only and both backbones wrap the same LLM, so the twin judges with exactly the
weights that were fine-tuned (checked: equal text logits); only the encoders around them differ.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from flexjudge.backbones.twins import make_twin
from flexjudge.core.app import stage_main, stage_run
from flexjudge.core.io import sha256_file, write_json

log = logging.getLogger(__name__)


def run(cfg: DictConfig) -> dict[str, Any]:
    """Write out_dir/checkpoint (the twin with the source's LLM) and out_dir/judge.json."""
    from flexjudge.backbones.checkpoints import save_checkpoint
    from flexjudge.backbones.loader import write_manifest

    with stage_run(cfg, "twin", torch_threads=True):
        source, twin, summary = make_twin(cfg.source, cfg.base)
        out = Path(cfg.out_dir)
        ckpt = save_checkpoint(
            twin.model, twin.tokenizer, out / "checkpoint", twin.image_processor, twin.feature_extractor
        )
        write_manifest(
            out,
            **{k: v for k, v in twin.manifest.items() if k not in ("weights", "variant", "provenance")},
            variant=source.manifest["variant"],
            weights=str(ckpt),
            weights_sha256=sha256_file(ckpt / "model.safetensors"),
            sft_data=source.manifest.get("sft_data"),
            sft_provenance=source.manifest.get("sft_provenance"),
            training={**source.manifest.get("training", {}), "twin": summary},
        )
        write_json(out / "twin_report.json", summary)
        log.info("twin: %s", summary)
    return summary


main = stage_main("twin")(run)

if __name__ == "__main__":
    main()
