"""The fine-tune of a judge: trainer arguments from the recipe (conf/trainer/), SFT rows encoded with
assistant-only labels, resumable checkpoints, LoRA for large backbones, and the checks around a run (the
launch topology the user asked for; frozen encoders unchanged bit for bit)."""

from __future__ import annotations

import inspect
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from flexjudge.core.app import to_plain
from flexjudge.core.io import iter_jsonl, read_json, sha256_file, stable_hash, write_json

log = logging.getLogger(__name__)


def on_cpu(device: str) -> bool:
    """Whether training runs on the CPU: asked for, or `auto` without CUDA (the Trainer refuses bf16 on a CPU
    it was not told about)."""
    import torch

    return device == "cpu" or (device == "auto" and not torch.cuda.is_available())


def training_arguments(cfg: DictConfig, report_to: str, cls=None, **overrides: Any):
    """TrainingArguments (or a subclass `cls`, e.g. TRL's SFTConfig) from the trainer recipe
    (conf/trainer/); `overrides` replace or add arguments."""
    from transformers import TrainingArguments

    t = cfg.trainer
    recipe = dict(
        output_dir=str(Path(cfg.out_dir) / "trainer"),
        seed=cfg.seed,
        data_seed=cfg.seed,
        learning_rate=t.learning_rate,
        num_train_epochs=t.epochs,
        lr_scheduler_type=t.lr_scheduler,
        warmup_steps=t.warmup_ratio,  # transformers 5: a float below 1 is a share of all steps (warmup_ratio is deprecated)
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
        save_strategy="steps" if t.save_steps else "no",
        save_steps=t.save_steps or None,
        save_total_limit=1,
        report_to=report_to,
        remove_unused_columns=False,
        dataloader_num_workers=0,
        disable_tqdm=not cfg.progress,
        use_cpu=on_cpu(cfg.backend.device),
    )
    return (cls or TrainingArguments)(**{**recipe, **overrides})


#: Written into a trainer checkpoint once it is complete; a checkpoint cut short by a kill lacks it.
COMPLETE = "flexjudge-complete"


def resume_point(cfg: DictConfig, fingerprint: str, main_process: bool = True) -> str | None:
    """The last complete checkpoint under out_dir/trainer made by this config; stale or partial ones are removed."""
    folder = Path(cfg.out_dir) / "trainer"
    stamp = folder / "fingerprint.json"
    if not main_process:  # rank 0 tidies the folder; the others only read it
        # Rank 0 removes everything when resume=false or the config changed, and only partial checkpoints
        # (which are never picked here) otherwise; so no rank picks a checkpoint that is being removed.
        if not cfg.resume:
            return None
        ready = stamp.exists() and read_json(stamp) == fingerprint
        marks = sorted(
            folder.glob(f"checkpoint-*/{COMPLETE}"), key=lambda m: int(m.parent.name.split("-")[1])
        )
        return str(marks[-1].parent) if ready and marks else None
    if folder.exists() and (not cfg.resume or not stamp.exists() or read_json(stamp) != fingerprint):
        log.info("finetune: removing checkpoints of another config (or resume=false) in %s", folder)
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_json(stamp, fingerprint)
    complete = []
    for ckpt in folder.glob("checkpoint-*"):
        if (ckpt / COMPLETE).exists():
            complete.append(ckpt)
        else:
            log.info("finetune: removing %s (cut short before it was complete)", ckpt)
            shutil.rmtree(ckpt)
    return str(max(complete, key=lambda p: int(p.name.split("-")[1]))) if complete else None


def restore_weights(model, checkpoint: str) -> None:
    """Load a trainer checkpoint's weights into `model`.

    The Trainer saves multimodal models in their original key layout (e.g. `model.layers.*` for
    Qwen2.5-VL's LLM) and its own resume loads them without renaming, so nothing would load; going
    through `from_pretrained` applies the renaming, and `strict=True` proves every tensor arrived.
    """
    restored = type(model).from_pretrained(checkpoint, dtype=next(model.parameters()).dtype)
    model.load_state_dict(restored.state_dict(), strict=True)
    del restored


def mark_complete_callback():
    """A TrainerCallback that marks each checkpoint complete after the Trainer has written all of it."""
    from transformers import TrainerCallback

    class MarkComplete(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                (Path(args.output_dir) / f"checkpoint-{state.global_step}" / COMPLETE).touch()

    return MarkComplete()


def run_fingerprint(cfg: DictConfig) -> str:
    """What a checkpoint must share with this run to be resumed: recipe, data, base weights, seed."""
    plain = to_plain(cfg)
    keep = {k: plain[k] for k in ("trainer", "seed", "base", "backbone")}
    return stable_hash(keep, sha256_file(cfg.data), read_json(cfg.base).get("provenance"))


#: The LLM's attention and MLP projections (Qwen2.5-VL/Omni `model.language_model.layers`, Llama `model.layers`).
LORA_TARGETS = r"model\.(language_model\.)?layers\.\d+\.(self_attn\.(q|k|v|o)_proj|mlp\.(gate|up|down)_proj)"


def add_lora(model, cfg: DictConfig):
    """Wrap the model with LoRA adapters on the LLM's projections only (encoders keep no adapters)."""
    from peft import LoraConfig, get_peft_model

    t = cfg.trainer
    lora = LoraConfig(
        r=t.lora_r, lora_alpha=t.lora_alpha, lora_dropout=t.lora_dropout, target_modules=LORA_TARGETS
    )
    wrapped = get_peft_model(model, lora)
    on_encoders = [
        n for n, _ in wrapped.named_parameters() if "lora_" in n and ("visual" in n or "audio" in n)
    ]
    if on_encoders:
        raise RuntimeError(f"LoRA adapters landed on encoder modules: {on_encoders[:3]}")
    return wrapped


def make_trainer(cfg: DictConfig, model, tokenizer, examples: list[dict], report_to: str):
    """The transformers Trainer of a run: recipe arguments, packed (or padded) batches, checkpoint marks."""
    from transformers import Trainer

    from flexjudge.backbones.attention import ATTENTION
    from flexjudge.training.sft import PackCollator, PadCollator, supervised_loss, uses_mrope

    # Packing: one row per batch, attention within each example, logits at supervised tokens only.
    packing = cfg.trainer.packing
    base = model.get_base_model() if hasattr(model, "get_base_model") else model  # under PEFT
    if packing:
        model.set_attn_implementation(ATTENTION)
    return Trainer(
        model=model,
        args=training_arguments(cfg, report_to),
        train_dataset=examples,
        data_collator=(
            PackCollator(uses_mrope(model), "logits_to_keep" in inspect.signature(base.forward).parameters)
            if packing
            # Qwen2.5-VL computes its 3-D positions from token types; the Omni thinker from the ids
            else PadCollator(tokenizer.pad_token_id, token_types=type(base).__name__.startswith("Qwen2_5_VL"))
        ),
        compute_loss_func=supervised_loss if packing else None,
        callbacks=[mark_complete_callback()],
    )


def encode_rows(cfg: DictConfig, judge) -> tuple[list[dict[str, Any]], int]:
    """Token ids + assistant-only labels of every SFT row; rows with `media` go through the media packer.

    A text row is cut at trainer.max_length. A media row is cut only after its last media token; one
    whose media run past max_length is left out and counted (a cut inside an image breaks the model).
    """
    from flexjudge.backbones.inputs import MediaSettings
    from flexjudge.data.media import load_media
    from flexjudge.training.sft import encode_chat

    root = Path(cfg.media_root) if cfg.media_root else Path(cfg.data).parent
    settings = MediaSettings(**to_plain(cfg.media))
    packer = judge.media_packer(settings)
    encoded, too_long = [], 0
    for lineno, row in iter_jsonl(cfg.data):
        where = f"{cfg.data}:{lineno}"
        specs = row.get("media") or []
        if not specs:
            encoded.append(encode_chat(judge.tokenizer, row["messages"], cfg.trainer.max_length, where))
            continue
        full = encode_chat(judge.tokenizer, row["messages"], 1 << 30, where)
        items = [
            load_media(s, root, video_fps=settings.video_fps, max_frames=settings.max_frames, where=where)
            for s in specs
        ]
        packed = packer.pack(full["input_ids"], items, full["labels"], where).truncated(
            cfg.trainer.max_length
        )
        if packed is None:
            too_long += 1
            continue
        encoded.append(packed.as_feature())
    if too_long:
        log.warning("finetune: %d media rows run past trainer.max_length and are left out", too_long)
    return encoded, too_long


def check_topology(topology: dict[str, Any]) -> None:
    """Fail when the Trainer would not run the launch the user asked for (instead of silently doing less).

    The launcher tells each process WORLD_SIZE and, for accelerate's FSDP / DeepSpeed configs,
    ACCELERATE_USE_FSDP / ACCELERATE_USE_DEEPSPEED.
    """
    launched = int(os.environ.get("WORLD_SIZE", 1))
    if launched > 1 and topology["processes"] != launched:
        raise RuntimeError(
            f"launched as {launched} processes but the Trainer runs each one alone (distributed "
            f"{topology['distributed']}): every process would train the whole run. Without GPUs set "
            "backend.device=cpu so the processes join one gloo group (conf/accelerate/cpu2.yaml)"
        )
    for engine in ("fsdp", "deepspeed"):
        if os.environ.get(f"ACCELERATE_USE_{engine.upper()}", "").lower() == "true" and not topology[engine]:
            raise RuntimeError(
                f"the launch config asks for {engine.upper()} but the Trainer runs "
                f"{topology['distributed']} (on CPU it drops {engine.upper()}); {engine.upper()} needs GPUs — "
                "on CPU use conf/accelerate/cpu2.yaml (DDP over gloo)"
            )


def provenance_of(data: str) -> str | None:
    """The select stage's provenance manifest beside an SFT file, when there is one."""
    manifest = Path(data).parent / "manifest.json"
    return str(manifest) if manifest.exists() else None


@dataclass
class Trained:
    """A finished fine-tune: the model (LoRA merged), the judge it came from and what the run did."""

    model: Any
    judge: Any
    summary: dict[str, Any]
    log_history: list[dict[str, Any]]


def train_judge(cfg: DictConfig, report_to: str, main_process: bool = True) -> Trained:
    """Fine-tune the judge at cfg.base on cfg.data: only the LLM learns; the frozen modules are checked
    bit for bit afterwards. Resumes from the last complete checkpoint of the same config."""
    from flexjudge.backbones.loader import freeze, load_judge, state_digest
    from flexjudge.training.sft import IGNORE

    judge = load_judge(cfg.base, device=cfg.backend.device)
    model, tokenizer = judge.model, judge.tokenizer
    frozen = freeze(model, list(judge.manifest.get("frozen", [])))
    before = state_digest(model, frozen)
    encoded, n_media_too_long = encode_rows(cfg, judge)
    # A prompt longer than max_length leaves nothing to learn from: counted and reported, not trained on.
    examples = [e for e in encoded if any(label != IGNORE for label in e["labels"])]
    if not examples:
        raise ValueError(
            f"{cfg.data}: none of {len(encoded)} SFT rows has answer tokens within "
            f"trainer.max_length={cfg.trainer.max_length} (see the sample stage's report.json)"
        )
    lora = bool(judge.manifest.get("lora", False))
    if lora:  # adapters on the LLM's projections; merged into the weights before saving
        model = add_lora(model, cfg)
    n_trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    last = resume_point(cfg, run_fingerprint(cfg), main_process)
    if last:
        log.info("finetune: resuming from %s", last)
        if not lora:  # a PEFT checkpoint holds adapters, which the Trainer itself restores
            restore_weights(model, last)
    model.train()
    trainer = make_trainer(cfg, model, tokenizer, examples, report_to)
    topology = {
        "processes": trainer.args.world_size,
        "distributed": str(trainer.accelerator.distributed_type).rsplit(".", 1)[-1],
        "fsdp": bool(trainer.is_fsdp_enabled),
        "deepspeed": bool(trainer.is_deepspeed_enabled),
    }
    log.info("finetune: launch topology %s", topology)
    check_topology(topology)
    result = trainer.train(resume_from_checkpoint=last)
    if lora:
        model = model.merge_and_unload()
    model.eval()
    changed = [n for n, h in state_digest(model, frozen).items() if before[n] != h]
    if changed:
        raise RuntimeError(f"frozen parameters changed during training: {changed[:5]}")
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    summary = {
        "examples": len(examples),
        "examples_without_answer_tokens": len(encoded) - len(examples),
        "examples_with_media": sum("token_types" in e for e in examples),
        "media_examples_over_max_length": n_media_too_long,
        "supervised_tokens": sum(sum(label != IGNORE for label in e["labels"]) for e in examples),
        "trainable_parameters": n_trainable,
        "lora": lora,
        **topology,
        "frozen_parameters_checked": len(frozen),
        "steps": trainer.state.global_step,
        "resumed_from": Path(last).name if last else None,
        "train_loss": result.training_loss,
        "first_logged_loss": losses[0] if losses else None,
        "last_logged_loss": losses[-1] if losses else None,
    }
    return Trained(model, judge, summary, trainer.state.log_history)
