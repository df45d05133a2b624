"""Stage `sample`: the backbone judges pool pairs on-policy at low temperature; agreeing samples become SFT rows.

Per pair, every seed gives one sample; samples whose verdict equals the gold verdict survive and the
longest reasoning is kept. If fewer than `target` pairs survive, a rationalization pass shows the gold
verdict as a hint, keeps the model's reasoning and closes it with the gold verdict (rows flagged
`origin=rationalized`).
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from flexjudge.app import seed_everything, setup_torch, stage_main, to_plain
from flexjudge.data.schemas import read_pair_items
from flexjudge.generate.hf import SamplingParams, generate
from flexjudge.io import write_json, write_jsonl
from flexjudge.judge.pairwise import generated_with_prefill, present, render_prompt
from flexjudge.judge.parsing import parse_pair_verdict
from flexjudge.judge.prompts import THINK_CLOSE, THINK_PREFILL, pair_completion
from flexjudge.tracking import start_tracking

log = logging.getLogger(__name__)


def trim_to_sentence(text: str) -> str:
    """Cut text after its last sentence end (. ! ? or line break); unchanged if it has none."""
    cut = max(text.rfind(c) for c in (".", "!", "?", "\n"))
    return text[: cut + 1].strip() if cut >= 0 else text


def sft_row(pres, reasoning: str, origin: str, seed: int | None) -> dict[str, Any]:
    """A chat-format SFT example: system + user prompt, assistant reasoning-then-verdict."""
    messages = pres.messages()
    assistant = THINK_PREFILL + pair_completion(reasoning, pres.gold)
    return {
        "id": pres.item.id,
        "messages": [*messages, {"role": "assistant", "content": assistant}],
        "gold": pres.gold,
        "origin": origin,
        "seed": seed,
        "reasoning_chars": len(reasoning.strip()),
    }


def run(cfg: DictConfig) -> dict[str, Any]:
    """Sample, filter by gold, fill by rationalization if enabled; write sft.jsonl, samples.jsonl, report.json."""
    from flexjudge.backbones.loader import load_judge

    seed_everything(cfg.seed)
    setup_torch(cfg.threads)
    out = Path(cfg.out_dir)
    started = time.time()
    with start_tracking(
        cfg.logger, stage="sample", name=f"sample-{cfg.backbone.name}", config=to_plain(cfg)
    ) as tracker:
        judge = load_judge(cfg.judge, device=cfg.backend.device)
        items = read_pair_items(cfg.pool)
        shown = [present(it, cfg.order, cfg.seed) for it in items]
        prompts = [render_prompt(judge.tokenizer, p.messages(), cfg.prefill_think) for p in shown]
        survivors: dict[str, tuple[str, int]] = {}
        records, failures = [], Counter()
        for seed in cfg.seeds:
            params = SamplingParams(
                max_new_tokens=cfg.max_new_tokens,
                temperature=cfg.temperature,
                top_p=cfg.top_p,
                n=1,
                seed=seed,
            )
            gens = generate(
                judge.model,
                judge.tokenizer,
                prompts,
                params,
                batch_size=cfg.backend.batch_size,
                desc=f"sample seed={seed}",
                progress=cfg.progress,
            )
            for pres, (gen,) in zip(shown, gens, strict=True):
                parsed = parse_pair_verdict(generated_with_prefill(gen.text, cfg.prefill_think))
                if parsed.failure:
                    failures[parsed.failure.value] += 1
                agrees = parsed.value == pres.gold
                records.append(
                    {
                        "id": pres.item.id,
                        "seed": seed,
                        "gold": pres.gold,
                        "verdict": parsed.value,
                        "failure": parsed.failure.value if parsed.failure else None,
                        "agrees": agrees,
                        "n_tokens": gen.n_tokens,
                        "text": gen.text,
                    }
                )
                best = survivors.get(pres.item.id)
                if agrees and parsed.think and (best is None or len(parsed.think) > len(best[0])):
                    survivors[pres.item.id] = (parsed.think, seed)
        by_id = {p.item.id: p for p in shown}
        kept = sorted(survivors, key=lambda i: (-len(survivors[i][0]), i))[: cfg.target]
        rows = [sft_row(by_id[i], survivors[i][0], "on_policy", survivors[i][1]) for i in kept]

        n_rationalized, n_empty, n_trimmed = 0, 0, 0
        missing = cfg.target - len(rows)
        if missing > 0 and cfg.rationalize.enabled:
            rest = [p for p in shown if p.item.id not in survivors]
            random.Random(cfg.seed).shuffle(rest)
            rest = rest[:missing]
            hinted = [render_prompt(judge.tokenizer, p.messages(hint=True), True) for p in rest]
            params = SamplingParams(
                max_new_tokens=cfg.rationalize.max_new_tokens,
                temperature=cfg.rationalize.temperature,
                top_p=cfg.top_p,
                n=1,
                seed=cfg.seed,
                stop_strings=(THINK_CLOSE,),
            )
            gens = generate(
                judge.model,
                judge.tokenizer,
                hinted,
                params,
                batch_size=cfg.backend.batch_size,
                desc="rationalize",
                progress=cfg.progress,
            )
            for pres, (gen,) in zip(rest, gens, strict=True):
                reasoning = gen.text.split(THINK_CLOSE)[0].strip()
                if not gen.finished:  # ran out of tokens mid-thought: end at the last full sentence
                    reasoning = trim_to_sentence(reasoning)
                    n_trimmed += 1
                if not reasoning:
                    n_empty += 1
                    continue
                rows.append(sft_row(pres, reasoning, "rationalized", cfg.seed))
                n_rationalized += 1
        write_jsonl(out / "sft.jsonl", rows)
        write_jsonl(out / "samples.jsonl", records)
        n_samples = len(records)
        report = {
            "pool_items": len(items),
            "samples": n_samples,
            "samples_agreeing": sum(r["agrees"] for r in records),
            "samples_unparsed": sum(failures.values()),
            "parse_failures": dict(failures),
            "items_with_survivor": len(survivors),
            "rows_on_policy": len(kept),
            "rows_rationalized": n_rationalized,
            "rationales_empty": n_empty,
            "rationales_trimmed": n_trimmed,
            "rows": len(rows),
            "target": cfg.target,
            "shortfall": max(0, cfg.target - len(rows)),
            "seconds": round(time.time() - started, 1),
        }
        write_json(out / "report.json", report)
        tracker.summary(report)
    log.info("sample: %s", report)
    if report["shortfall"]:
        log.warning(
            "sample: %d rows short of target %d (see %s)",
            report["shortfall"],
            cfg.target,
            out / "report.json",
        )
    return report


main = stage_main("sample")(run)

if __name__ == "__main__":
    main()
