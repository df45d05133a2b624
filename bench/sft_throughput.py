"""SFT throughput: our finetune (packed, no padding) vs TRL's SFTTrainer with its default padded collator.

Same model (the embedded default, vision tower frozen in both), same chat examples (the demo's SFT set
when the demo has run), same effective batch and recipe (conf/trainer/demo.yaml: optimizer, fp32,
gradient checkpointing as the recipe says; TRL's own SFTConfig defaults for bf16 and checkpointing are
overridden to match), same number of optimizer steps, on CPU. Run once with the demo recipe (fp32) and
once with bf16 autocast (faster than fp32 on CPUs with bf16 units), both trainers each time. The first optimizer step of each
is a warm-up and not timed. Prints the non-pad tokens each processed per second (counted at the
model's input) and their ratio.

    .venv/bin/python bench/sft_throughput.py            # fp32 and bf16 recipes, 1 warm-up + 4 timed steps (~8 min)
    .venv/bin/python bench/sft_throughput.py --precisions fp32 --steps 8
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from flexjudge.backbones.loader import freeze, load_judge
from flexjudge.backbones.recipes import embedded_default_manifest
from flexjudge.core.app import compose, setup_torch
from flexjudge.core.io import read_jsonl
from flexjudge.data.curation import row_chars
from flexjudge.data.pools import read_pool
from flexjudge.data.selection import SCALE_10, Survivor, pair_row
from flexjudge.training.sft import encode_chat
from flexjudge.training.trainer import make_trainer, training_arguments

REPO = Path(__file__).resolve().parents[1]


def sft_rows(n: int) -> tuple[list[dict], str]:
    """The demo's SFT rows if the demo ran, else rows built the same way from curated hh-rlhf pairs."""
    demo = REPO / "results" / "select" / "smollm2_vl" / "flex" / "sft.jsonl"
    if demo.exists():
        return read_jsonl(demo)[:n], str(demo.relative_to(REPO))
    pool, _ = read_pool(REPO / "data/hh-rlhf-harmless-base/test.jsonl.gz", "hh_rlhf", on_bad_row="skip")
    rows = []
    for row in [r for r in pool if row_chars(r) <= 600][:n]:
        best = row.answers[0] if row.preferred == "A" else row.answers[1]
        reason = f"Reply {row.preferred} answers the last turn more helpfully and harmlessly: {best[:160]}"
        scores = (8.0, 3.0) if row.preferred == "A" else (3.0, 8.0)
        rows.append(pair_row(row, Survivor(row.id, 0, "bench", reason, scores, 0), SCALE_10))
    return rows, "hh-rlhf pairs with a templated rationale (run the demo to use its sft.jsonl)"


class TokenCounter:
    """Counts non-pad tokens entering the model (attention mask if there is one, else every id) and
    times the optimizer steps after the first (a TrainerCallback: the first step is a warm-up)."""

    def __init__(self, model):
        from transformers import TrainerCallback

        self.tokens = self.positions = 0
        self.started: float | None = None
        self.seconds = 0.0
        model.register_forward_pre_hook(self.count, with_kwargs=True)
        counter = self

        class Clock(TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):
                now = time.perf_counter()
                if state.global_step == 1:  # warm-up done: count from here
                    counter.tokens = counter.positions = 0
                    counter.started = now
                elif counter.started is not None:
                    counter.seconds = now - counter.started

        self.callback = Clock()

    def count(self, _module, args, kwargs):
        mask = kwargs.get("attention_mask")
        ids = kwargs.get("input_ids", args[0] if args else None)
        self.tokens += int(mask.sum()) if mask is not None else int(ids.numel())
        self.positions += int(ids.numel())


def fresh_model(manifest: Path):
    judge = load_judge(manifest, device="cpu")
    freeze(judge.model, list(judge.manifest.get("frozen", [])))
    judge.model.train()
    return judge


def ours(manifest: Path, rows: list[dict], steps: int, cfg) -> TokenCounter:
    judge = fresh_model(manifest)
    examples = [encode_chat(judge.tokenizer, r["messages"], cfg.trainer.max_length) for r in rows]
    trainer = make_trainer(cfg, judge.model, judge.tokenizer, examples, "none")
    trainer.args.max_steps, trainer.args.logging_steps = steps, steps
    counter = TokenCounter(judge.model)
    trainer.add_callback(counter.callback)
    trainer.train()
    return counter


def trl_default(
    manifest: Path, rows: list[dict], steps: int, cfg, padding_free: bool = False
) -> TokenCounter:
    """TRL's SFTTrainer under our recipe: its padded collator, or `padding_free` (its fastest collator: the
    batch flattened into one row with position ids; exact only with FlashAttention, which a CPU lacks, so
    on a CPU its examples attend across each other: a speed baseline, not a correct setting there)."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    judge = fresh_model(manifest)
    # the same recipe arguments as our finetune (SFTConfig's own defaults turn on bf16 and checkpointing)
    args = training_arguments(
        cfg,
        "none",
        SFTConfig,
        output_dir=str(Path(cfg.out_dir) / "trl"),
        max_length=cfg.trainer.max_length,
        max_steps=steps,
        logging_steps=steps,
        save_strategy="no",
        save_steps=None,
        disable_tqdm=False,
        assistant_only_loss=False,  # TRL's default; its template-based masking needs generation tags
        # TRL's fastest: best-fit-decreasing packing into padding-free rows (TRL refuses padding_free
        # without packing when max_length is set)
        **({"padding_free": True, "packing": True, "packing_strategy": "bfd"} if padding_free else {}),
    )
    data = Dataset.from_list([{"messages": r["messages"]} for r in rows])
    counter = TokenCounter(judge.model)
    trainer = SFTTrainer(
        model=judge.model,
        args=args,
        train_dataset=data,
        processing_class=judge.tokenizer,
        callbacks=[counter.callback],
    )
    trainer.train()
    return counter


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=4, help="timed optimizer steps for each trainer")
    ap.add_argument(
        "--precisions",
        default="fp32,bf16",
        help="recipes to compare, each run by both trainers: fp32 (the demo recipe) and/or bf16 (autocast)",
    )
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    setup_torch(args.threads)
    manifest = embedded_default_manifest(REPO)
    ratios = {}
    for precision in args.precisions.split(","):
        cfg = compose(
            "finetune",
            [
                f"out_dir={REPO / '.cache' / 'bench' / 'sft'}",
                "logger=none",
                "backend.device=cpu",
                f"trainer.bf16={str(precision == 'bf16').lower()}",
            ],
        )
        batch = cfg.trainer.per_device_batch_size * cfg.trainer.grad_accumulation
        steps = args.steps + 1  # the first is a warm-up
        rows, source = sft_rows(steps * batch)
        print(
            f"[{precision}] embedded default, {len(rows)} examples from {source}; 1 warm-up + {args.steps} "
            f"timed steps of effective batch {batch}, gradient checkpointing "
            f"{cfg.trainer.gradient_checkpointing}, {torch.get_num_threads()} threads",
            flush=True,
        )
        a = ours(manifest, rows, steps, cfg)
        b = trl_default(manifest, rows, steps, cfg)
        f = trl_default(manifest, rows, steps, cfg, padding_free=True)
        for name, c in (
            ("flexjudge (packed)", a),
            ("TRL SFTTrainer (padded)", b),
            ("TRL packed, padding-free", f),
        ):
            print(
                f"[{precision}] {name:25s} {c.tokens} non-pad tokens ({c.positions} positions) in "
                f"{c.seconds:.1f}s = {c.tokens / c.seconds:.1f} tok/s",
                flush=True,
            )
        ratios[precision] = (a.tokens / a.seconds) / (b.tokens / b.seconds)
        free = (a.tokens / a.seconds) / (f.tokens / f.seconds)
        print(
            f"[{precision}] ratio flexjudge/TRL padded: {ratios[precision]:.2f}x, /TRL padding-free: {free:.2f}x",
            flush=True,
        )
        ratios[f"{precision} vs padding-free"] = free
    print("ratios flexjudge/TRL, same recipe: " + ", ".join(f"{k} {v:.2f}x" for k, v in ratios.items()))


if __name__ == "__main__":
    main()
