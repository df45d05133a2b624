"""Stage `finetune`: SFT of the backbone's LLM on the sampled text rationales (encoders stay frozen).

The whole multimodal model goes to the trainer, but the data are text only and the vision (audio)
towers are frozen, so only the LLM changes — checked bit for bit before saving (`training.trainer`).
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from flexjudge.core.app import stage_main, stage_run
from flexjudge.core.io import sha256_file, write_json
from flexjudge.training.trainer import provenance_of, train_judge

log = logging.getLogger(__name__)


def run(cfg: DictConfig) -> dict[str, Any]:
    """Train, verify frozen modules are untouched, save safetensors + judge.json."""
    from flexjudge.backbones.checkpoints import save_checkpoint
    from flexjudge.backbones.loader import write_manifest

    out = Path(cfg.out_dir)
    # Under torchrun / `accelerate launch` every process trains; only rank 0 tracks and writes results.
    main_process = int(os.environ.get("RANK", 0)) == 0
    logger = cfg.logger if main_process else OmegaConf.create({"backend": "none"})
    with stage_run(cfg, "finetune", f"finetune-{cfg.backbone.name}", logger=logger, torch_threads=True) as st:
        trained = train_judge(cfg, "wandb" if st.tracker.active else "none", main_process)
        if not main_process:
            return {"steps": trained.summary["steps"], "rank": int(os.environ["RANK"])}
        judge = trained.judge
        ckpt = save_checkpoint(
            trained.model, judge.tokenizer, out / "checkpoint", judge.image_processor, judge.feature_extractor
        )
        if not cfg.keep_checkpoints:
            shutil.rmtree(out / "trainer", ignore_errors=True)
        summary = {**trained.summary, "seconds": st.seconds()}
        write_json(out / "train_report.json", {**summary, "log_history": trained.log_history})
        write_manifest(
            out,
            backbone=judge.manifest["backbone"],
            variant="flex",
            weights=str(ckpt),
            model_class=judge.manifest["model_class"],
            dtype=judge.manifest["dtype"],
            trust_remote_code=judge.manifest.get("trust_remote_code", False),
            frozen=judge.manifest.get("frozen", []),
            processor=judge.manifest.get("processor", "image"),
            base=str(Path(cfg.base)),
            sft_data=str(cfg.data),
            sft_data_sha256=sha256_file(cfg.data),
            sft_provenance=provenance_of(cfg.data),
            weights_sha256=sha256_file(ckpt / "model.safetensors"),
            training=summary,
        )
        st.tracker.summary(summary)
    log.info("finetune: %s", summary)
    return summary


main = stage_main("finetune")(run)

if __name__ == "__main__":
    main()
