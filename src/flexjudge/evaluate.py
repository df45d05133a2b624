"""Stage `evaluate`: one judge × one benchmark × one voting setting × one budget → predictions + metrics."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from flexjudge.app import seed_everything, setup_torch, stage_main, to_plain
from flexjudge.benchmarks.registry import get_benchmark
from flexjudge.data.schemas import read_pair_items
from flexjudge.generate.hf import SamplingParams, generate
from flexjudge.io import write_json, write_jsonl
from flexjudge.judge.pairwise import generated_with_prefill, present, render_prompt
from flexjudge.judge.parsing import parse_pair_verdict
from flexjudge.judge.voting import majority_verdict
from flexjudge.metrics import pairwise_summary
from flexjudge.tracking import start_tracking

log = logging.getLogger(__name__)


def check_budget(budget: DictConfig) -> None:
    """Only the unconstrained budget exists so far; refuse settings that would be ignored."""
    if budget.max_think_tokens is not None or budget.min_think_rounds:
        raise NotImplementedError(
            f"budget={budget.name}: budget forcing is not implemented yet; use budget=none"
        )


def run(cfg: DictConfig) -> dict[str, Any]:
    """Judge every benchmark item with k sampled votes; write predictions.jsonl and metrics.json."""
    from flexjudge.backbones.loader import load_judge

    spec = get_benchmark(cfg.benchmark.name)
    if spec.judge_format != "pair_verdict":
        raise NotImplementedError(
            f"benchmark {spec.name}: format {spec.judge_format} is not wired into evaluate"
        )
    check_budget(cfg.budget)
    seed_everything(cfg.seed)
    setup_torch(cfg.threads)
    out = Path(cfg.out_dir)
    started = time.time()
    ids = dict(
        backbone=cfg.backbone.name,
        variant=cfg.variant,
        benchmark=spec.name,
        voting=cfg.voting.name,
        budget=cfg.budget.name,
    )
    name = "eval-" + "-".join(ids.values())
    with start_tracking(cfg.logger, stage="evaluate", name=name, config=to_plain(cfg)) as tracker:
        judge = load_judge(cfg.judge, device=cfg.backend.device)
        items = read_pair_items(cfg.benchmark.path)
        if cfg.limit is not None:
            items = items[: cfg.limit]
        shown = [present(it, cfg.benchmark.order, cfg.benchmark.seed) for it in items]
        prompts = [render_prompt(judge.tokenizer, p.messages(), cfg.prefill_think) for p in shown]
        params = SamplingParams(
            max_new_tokens=cfg.max_new_tokens,
            temperature=cfg.benchmark.temperature,
            top_p=cfg.benchmark.top_p,
            n=cfg.voting.k,
            seed=cfg.seed,
        )
        gens = generate(
            judge.model,
            judge.tokenizer,
            prompts,
            params,
            batch_size=cfg.backend.batch_size,
            desc=name,
            progress=cfg.progress,
        )
        rows, all_votes, voted, failures = [], [], [], []
        for pres, samples in zip(shown, gens, strict=True):
            parsed = [parse_pair_verdict(generated_with_prefill(g.text, cfg.prefill_think)) for g in samples]
            votes = [p.value for p in parsed]
            verdict = majority_verdict(votes)
            failures += [p.failure.value for p in parsed if p.failure]
            all_votes.append(votes)
            voted.append(verdict)
            rows.append(
                {
                    "id": pres.item.id,
                    "gold": pres.gold,
                    "verdict": verdict,
                    "correct": verdict == pres.gold,
                    "votes": votes,
                    "failures": [p.failure.value if p.failure else None for p in parsed],
                    "n_tokens": [g.n_tokens for g in samples],
                    "finished": [g.finished for g in samples],
                    "generations": [g.text for g in samples],
                }
            )
        metrics = pairwise_summary(all_votes, voted, [p.gold for p in shown], failures)
        seconds = time.time() - started
        record = {
            **ids,
            "judge_manifest": str(cfg.judge),
            "k": cfg.voting.k,
            "metrics": metrics,
            "generated_tokens": sum(sum(r["n_tokens"]) for r in rows),
            "seconds": round(seconds, 1),
            "sft_manifest": judge.manifest.get("sft_data"),
        }
        write_jsonl(out / "predictions.jsonl", rows)
        write_json(out / "metrics.json", record)
        tracker.summary({k: v for k, v in metrics.items() if isinstance(v, int | float)})
    log.info(
        "%s: accuracy %.3f, parse failures %.3f (%d items, k=%d, %.0fs)",
        name,
        metrics["accuracy"],
        metrics["parse_failure_rate"],
        metrics["n_items"],
        cfg.voting.k,
        seconds,
    )
    return record


main = stage_main("evaluate")(run)

if __name__ == "__main__":
    main()
