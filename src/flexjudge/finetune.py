"""Stage `finetune`: SFT of the backbone's LLM on the sampled text rationales (encoders stay frozen).

The whole multimodal model goes to the trainer, but the data are text only and the vision (audio)
towers are frozen, so only the LLM changes — checked bit for bit before saving.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from flexjudge.app import seed_everything, setup_torch, stage_main, to_plain
from flexjudge.io import iter_jsonl, sha256_file, write_json
from flexjudge.tracking import start_tracking

log = logging.getLogger(__name__)


def training_arguments(cfg: DictConfig, report_to: str):
    """transformers TrainingArguments from the trainer recipe (conf/trainer/)."""
    from transformers import TrainingArguments

    t = cfg.trainer
    return TrainingArguments(
        output_dir=str(Path(cfg.out_dir) / "trainer"),
        seed=cfg.seed,
        data_seed=cfg.seed,
        learning_rate=t.learning_rate,
        num_train_epochs=t.epochs,
        lr_scheduler_type=t.lr_scheduler,
        warmup_steps=t.warmup_ratio,
        weight_decay=t.weight_decay,
        adam_beta1=t.adam_betas[0],
        adam_beta2=t.adam_betas[1],
        max_grad_norm=t.max_grad_norm,
        per_device_train_batch_size=t.per_device_batch_size,
        gradient_accumulation_steps=t.grad_accumulation,
        activation_checkpointing=t.gradient_checkpointing,
        dataloader_pin_memory=False,
        bf16=t.bf16,
        logging_steps=t.logging_steps,
        save_strategy="no",
        report_to=report_to,
        remove_unused_columns=False,
        dataloader_num_workers=0,
        disable_tqdm=not cfg.progress,
        use_cpu=cfg.backend.device == "cpu",
    )


def run(cfg: DictConfig) -> dict[str, Any]:
    """Train, verify frozen modules are untouched, save safetensors + judge.json."""
    from transformers import Trainer

    from flexjudge.backbones.build import save_checkpoint
    from flexjudge.backbones.loader import freeze, load_judge, state_digest, write_manifest
    from flexjudge.sft import IGNORE, PadCollator, encode_chat

    seed_everything(cfg.seed)
    setup_torch(cfg.threads)
    out = Path(cfg.out_dir)
    started = time.time()
    with start_tracking(
        cfg.logger, stage="finetune", name=f"finetune-{cfg.backbone.name}", config=to_plain(cfg)
    ) as tracker:
        judge = load_judge(cfg.base, device=cfg.backend.device)
        model, tokenizer = judge.model, judge.tokenizer
        frozen = freeze(model, list(judge.manifest.get("frozen", [])))
        before = state_digest(model, frozen)
        encoded = [
            encode_chat(tokenizer, row["messages"], cfg.trainer.max_length, f"{cfg.data}:{lineno}")
            for lineno, row in iter_jsonl(cfg.data)
        ]
        # A prompt longer than max_length leaves nothing to learn from: counted and reported, not trained on.
        examples = [e for e in encoded if any(label != IGNORE for label in e["labels"])]
        n_no_target = len(encoded) - len(examples)
        if not examples:
            raise ValueError(
                f"{cfg.data}: none of {len(encoded)} SFT rows has answer tokens within "
                f"trainer.max_length={cfg.trainer.max_length} (see the sample stage's report.json)"
            )
        n_trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        model.train()
        trainer = Trainer(
            model=model,
            args=training_arguments(cfg, "wandb" if tracker.active else "none"),
            train_dataset=examples,
            data_collator=PadCollator(tokenizer.pad_token_id),
        )
        result = trainer.train()
        model.eval()
        changed = [n for n, h in state_digest(model, frozen).items() if before[n] != h]
        if changed:
            raise RuntimeError(f"frozen parameters changed during training: {changed[:5]}")
        ckpt = save_checkpoint(model, tokenizer, out / "checkpoint", judge.image_processor)
        losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
        summary = {
            "examples": len(examples),
            "examples_without_answer_tokens": n_no_target,
            "supervised_tokens": sum(sum(label != IGNORE for label in e["labels"]) for e in examples),
            "trainable_parameters": n_trainable,
            "frozen_parameters_checked": len(frozen),
            "steps": trainer.state.global_step,
            "train_loss": result.training_loss,
            "first_logged_loss": losses[0] if losses else None,
            "last_logged_loss": losses[-1] if losses else None,
            "seconds": round(time.time() - started, 1),
        }
        write_json(out / "train_report.json", {**summary, "log_history": trainer.state.log_history})
        write_manifest(
            out,
            backbone=judge.manifest["backbone"],
            variant="flex",
            weights=str(ckpt),
            model_class=judge.manifest["model_class"],
            dtype=judge.manifest["dtype"],
            trust_remote_code=judge.manifest.get("trust_remote_code", False),
            frozen=judge.manifest.get("frozen", []),
            base=str(Path(cfg.base)),
            sft_data=str(cfg.data),
            sft_data_sha256=sha256_file(cfg.data),
            weights_sha256=sha256_file(ckpt / "model.safetensors"),
            training=summary,
        )
        tracker.summary(summary)
    log.info("finetune: %s", summary)
    return summary


main = stage_main("finetune")(run)

if __name__ == "__main__":
    main()
