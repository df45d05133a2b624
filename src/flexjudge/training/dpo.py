"""DPO for our policies: the sigmoid loss against a frozen reference, on chosen/rejected answers to one prompt.

loss = −log σ(β · ((log π(c) − log π_ref(c)) − (log π(r) − log π_ref(r)))), averaged over pairs, where log π(y)
sums the log-probabilities of answer y's tokens given the prompt (`logp_tokens: completion`, TRL's form and
ours by default). `logp_tokens: all` reproduces the official Mol-LLaMA code, which sums over every position
of the padded row — prompt and padding included; the prompt terms cancel between chosen and rejected only
when both rows are padded alike, so it is kept as an option for comparison, not as the default.

Why our own loop instead of TRL's DPOTrainer: our molecular policy takes extra inputs (the `mol_*` graph
tensors that its forward turns into 8 `<mol>` embeddings), which TRL's collator drops; the loop here passes
any media tensors through. tests/training/test_dpo.py checks the loss and the per-answer log-probabilities
against TRL's own computation on one batch. The reference log-probabilities are computed once before
training (the reference never changes), which halves the cost of every step.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from flexjudge.backbones.inputs import IGNORE, media_inputs

log = logging.getLogger(__name__)
LOGP_TOKENS = ("completion", "all")


def dpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    beta: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(mean sigmoid DPO loss, chosen rewards, rejected rewards); rewards are β·(log π − log π_ref)."""
    chosen = beta * (policy_chosen - ref_chosen)
    rejected = beta * (policy_rejected - ref_rejected)
    loss = -F.logsigmoid(chosen - rejected)
    return loss.mean(), chosen.detach(), rejected.detach()


def collate(examples: Sequence[Mapping[str, Any]], pad_id: int, max_length: int) -> dict[str, torch.Tensor]:
    """2B right-padded rows, the B chosen answers then the B rejected ones, each after its prompt; labels are
    IGNORE on the prompt and the padding; each row carries its prompt's media tensors (in row order). An
    answer is cut to fit `max_length`; a prompt that leaves no room for any answer token is an error."""
    rows, labels, media = [], [], []
    for side in ("chosen_ids", "rejected_ids"):
        for i, ex in enumerate(examples):
            prompt, answer = list(ex["prompt_ids"]), list(ex[side])
            room = max_length - len(prompt)
            if room < 1:
                raise ValueError(f"pair {i}: its prompt has {len(prompt)} tokens, max_length={max_length}")
            answer = answer[:room]
            rows.append(prompt + answer)
            labels.append([IGNORE] * len(prompt) + answer)
            media.append(ex.get("media") or {})
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    lab = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for r, (row, labs) in enumerate(zip(rows, labels, strict=True)):
        ids[r, : len(row)] = torch.tensor(row)
        lab[r, : len(row)] = torch.tensor(labs)
        mask[r, : len(row)] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": lab, **media_inputs(media)}


def sequence_logps(model, batch: Mapping[str, torch.Tensor], mode: str = "completion") -> torch.Tensor:
    """Per row, the summed log-probability of its tokens given the ones before: the answer tokens
    (`completion`) or every position of the padded row (`all`, the official code's sum)."""
    if mode not in LOGP_TOKENS:
        raise ValueError(f"logp_tokens={mode!r}: choose one of {LOGP_TOKENS}")
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    logits = model(**inputs).logits[:, :-1].float()
    targets = batch["input_ids"][:, 1:]
    token_logps = torch.gather(logits.log_softmax(-1), 2, targets.unsqueeze(-1)).squeeze(-1)
    if mode == "completion":
        keep = batch["labels"][:, 1:] != IGNORE
        return (token_logps * keep).sum(-1)
    return token_logps.sum(-1)


def _split(logps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    half = logps.shape[0] // 2
    return logps[:half], logps[half:]


def _batches(n: int, size: int, generator: torch.Generator | None) -> list[list[int]]:
    order = torch.randperm(n, generator=generator).tolist() if generator is not None else list(range(n))
    return [order[i : i + size] for i in range(0, n, size)]


def train_dpo(
    policy,
    tokenizer,
    examples: Sequence[Mapping[str, Any]],
    cfg: Mapping[str, Any],
    *,
    out_dir: str | Path | None = None,
    tracker=None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train `policy` in place on the pairs; cfg: beta, lr, warmup_ratio, weight_decay, epochs, batch_size,
    grad_accumulation, max_length, logp_tokens, seed. Returns the summary (per-step history included)."""
    from tqdm.auto import tqdm

    if not examples:
        raise ValueError("DPO needs at least one preference pair")
    mode, beta = str(cfg["logp_tokens"]), float(cfg["beta"])
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    size, accum = int(cfg["batch_size"]), int(cfg["grad_accumulation"])
    reference = copy.deepcopy(policy).eval()
    for p in reference.parameters():
        p.requires_grad_(False)
    ref: list[torch.Tensor] = [torch.zeros(()) for _ in examples]  # (chosen, rejected) per example
    with torch.no_grad():
        for idx in _batches(len(examples), size, None):
            batch = collate([examples[i] for i in idx], pad, int(cfg["max_length"]))
            c, r = _split(sequence_logps(reference, batch, mode))
            for j, i in enumerate(idx):
                ref[i] = torch.stack([c[j], r[j]])
    del reference
    params = [p for p in policy.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the policy has no trainable parameters")
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": float(cfg["weight_decay"])},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=float(cfg["lr"]),
    )
    generator = torch.Generator().manual_seed(int(cfg["seed"]))
    micro = math.ceil(len(examples) / size)
    steps = math.ceil(micro / accum) * int(cfg["epochs"])
    warmup = math.ceil(float(cfg["warmup_ratio"]) * steps)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / warmup) if warmup else 1.0
    )
    policy.train()
    history: list[dict[str, float]] = []
    bar = tqdm(total=steps, desc="dpo", disable=not progress)
    step = 0
    for epoch in range(int(cfg["epochs"])):
        batches = _batches(len(examples), size, generator)
        for b, idx in enumerate(batches):
            batch = collate([examples[i] for i in idx], pad, int(cfg["max_length"]))
            pc, pr = _split(sequence_logps(policy, batch, mode))
            rc = torch.stack([ref[i][0] for i in idx])
            rr = torch.stack([ref[i][1] for i in idx])
            loss, chosen, rejected = dpo_loss(pc, pr, rc, rr, beta)
            (loss * len(idx) / min(size * accum, len(examples))).backward()
            last = b == len(batches) - 1
            if (b + 1) % accum == 0 or last:
                optimizer.step()
                schedule.step()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                bar.update(1)
                row = {
                    "step": step,
                    "epoch": epoch,
                    "loss": loss.item(),
                    "reward_accuracy": (chosen > rejected).float().mean().item(),
                    "reward_margin": (chosen - rejected).mean().item(),
                    "chosen_reward": chosen.mean().item(),
                    "rejected_reward": rejected.mean().item(),
                    "lr": schedule.get_last_lr()[0],
                }
                history.append(row)
                if tracker is not None:
                    tracker.log({f"dpo/{k}": v for k, v in row.items() if k != "step"}, step=step)
    bar.close()
    policy.eval()
    summary = {
        "pairs": len(examples),
        "steps": step,
        "epochs": int(cfg["epochs"]),
        "logp_tokens": mode,
        "beta": beta,
        "first_loss": history[0]["loss"],
        "last_loss": history[-1]["loss"],
        "last_reward_accuracy": history[-1]["reward_accuracy"],
        "history": history,
    }
    if out_dir is not None:
        from flexjudge.core.io import write_json

        Path(out_dir).mkdir(parents=True, exist_ok=True)
        write_json(Path(out_dir) / "history.json", history)
    return summary
