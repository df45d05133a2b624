"""SFT throughput: our finetune (packed, no padding) vs TRL's SFTTrainer with its default padded collator.

Same model (the embedded default, vision tower frozen in both), same chat examples, same effective
batch (4 per step x 2 accumulation), same optimizer settings and number of optimizer steps, fp32 on CPU.
Prints the non-pad tokens each processed per second (counted at the model's input) and their ratio.

    .venv/bin/python bench/sft_throughput.py            # 4 optimizer steps each (~4 min here)
    .venv/bin/python bench/sft_throughput.py --steps 8
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from flexjudge.app import compose, setup_torch
from flexjudge.backbones.loader import freeze, load_judge
from flexjudge.curate import item_chars
from flexjudge.data.hh_rlhf import read_hh_rlhf
from flexjudge.finetune import make_trainer
from flexjudge.io import read_jsonl
from flexjudge.judge.pairwise import present
from flexjudge.provision import embedded_default_manifest
from flexjudge.sample import sft_row
from flexjudge.sft import encode_chat

REPO = Path(__file__).resolve().parents[1]


def sft_rows(n: int) -> tuple[list[dict], str]:
    """The demo's SFT rows if the demo ran, else rows built the same way from curated hh-rlhf pairs."""
    demo = REPO / "results" / "sample" / "smollm2_vl" / "sft.jsonl"
    if demo.exists():
        return read_jsonl(demo)[:n], str(demo.relative_to(REPO))
    items, _ = read_hh_rlhf(REPO / "data/hh-rlhf-harmless-base/test.jsonl.gz", on_bad_row="skip")
    rows = []
    for item in [i for i in items if item_chars(i) <= 600][:n]:
        pres = present(item, "random", 0)
        reason = f"Reply {pres.gold} answers the last turn more helpfully and harmlessly: {item.chosen[:160]}"
        rows.append(sft_row(pres, reason, "bench", None))
    return rows, "hh-rlhf pairs with a templated rationale (run the demo to use its sft.jsonl)"


class TokenCounter:
    """Counts non-pad tokens entering the model (attention mask if there is one, else every id)."""

    def __init__(self, model):
        self.tokens = self.positions = 0
        model.register_forward_pre_hook(self, with_kwargs=True)

    def __call__(self, _module, args, kwargs):
        mask = kwargs.get("attention_mask")
        ids = kwargs.get("input_ids", args[0] if args else None)
        self.tokens += int(mask.sum()) if mask is not None else int(ids.numel())
        self.positions += int(ids.numel())


def fresh_model(manifest: Path):
    judge = load_judge(manifest, device="cpu")
    freeze(judge.model, list(judge.manifest.get("frozen", [])))
    judge.model.train()
    return judge


def ours(manifest: Path, rows: list[dict], steps: int, cfg) -> tuple[TokenCounter, float]:
    judge = fresh_model(manifest)
    examples = [encode_chat(judge.tokenizer, r["messages"], cfg.trainer.max_length) for r in rows]
    trainer = make_trainer(cfg, judge.model, judge.tokenizer, examples, "none")
    trainer.args.max_steps, trainer.args.logging_steps = steps, steps
    counter = TokenCounter(judge.model)
    start = time.perf_counter()
    trainer.train()
    return counter, time.perf_counter() - start


def trl_default(manifest: Path, rows: list[dict], steps: int, cfg) -> tuple[TokenCounter, float]:
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    judge = fresh_model(manifest)
    t = cfg.trainer
    args = SFTConfig(
        output_dir=str(Path(cfg.out_dir) / "trl"),
        seed=cfg.seed,
        learning_rate=t.learning_rate,
        lr_scheduler_type=t.lr_scheduler,
        warmup_steps=t.warmup_ratio,
        weight_decay=t.weight_decay,
        adam_beta1=t.adam_betas[0],
        adam_beta2=t.adam_betas[1],
        max_grad_norm=t.max_grad_norm,
        per_device_train_batch_size=t.per_device_batch_size,
        gradient_accumulation_steps=t.grad_accumulation,
        max_length=t.max_length,
        max_steps=steps,
        logging_steps=steps,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        dataloader_pin_memory=False,
        assistant_only_loss=False,  # TRL's default; its template-based masking needs generation tags
    )
    data = Dataset.from_list([{"messages": r["messages"]} for r in rows])
    counter = TokenCounter(judge.model)
    trainer = SFTTrainer(model=judge.model, args=args, train_dataset=data, processing_class=judge.tokenizer)
    start = time.perf_counter()
    trainer.train()
    return counter, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=4, help="optimizer steps for each trainer")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    setup_torch(args.threads)
    manifest = embedded_default_manifest(REPO)
    cfg = compose(
        "finetune", [f"out_dir={REPO / '.cache' / 'bench' / 'sft'}", "logger=none", "backend.device=cpu"]
    )
    batch = cfg.trainer.per_device_batch_size * cfg.trainer.grad_accumulation
    rows, source = sft_rows(args.steps * batch)
    print(
        f"embedded default, {len(rows)} examples from {source}; {args.steps} steps of effective batch {batch}, "
        f"{torch.get_num_threads()} threads"
    )
    a, a_s = ours(manifest, rows, args.steps, cfg)
    b, b_s = trl_default(manifest, rows, args.steps, cfg)
    for name, c, sec in (("flexjudge (packed)", a, a_s), ("TRL SFTTrainer (padded)", b, b_s)):
        print(
            f"{name:25s} {c.tokens} non-pad tokens ({c.positions} positions) in {sec:.1f}s "
            f"= {c.tokens / sec:.1f} tok/s"
        )
    print(f"ratio flexjudge/TRL: {(a.tokens / a_s) / (b.tokens / b_s):.2f}x")


if __name__ == "__main__":
    main()
