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
from flexjudge.generate.simulated import SimulatedJudge
from flexjudge.io import write_json, write_jsonl
from flexjudge.judge.evaluation import View, build_views, headline_metric, judge_items, summarize
from flexjudge.judge.formats import JudgeFormat, make_format
from flexjudge.judge.pairwise import render_prompt
from flexjudge.tracking import start_tracking

log = logging.getLogger(__name__)


def check_budget(budget: DictConfig) -> None:
    """Only the unconstrained budget exists so far; refuse settings that would be ignored."""
    if budget.max_think_tokens is not None or budget.min_think_rounds:
        raise NotImplementedError(
            f"budget={budget.name}: budget forcing is not implemented yet; use budget=none"
        )


def judge_format(benchmark: DictConfig) -> JudgeFormat:
    """The benchmark's judge format, checked against the registry and its failure policy."""
    spec = get_benchmark(benchmark.name)
    if benchmark.judge_format != spec.judge_format:
        raise ValueError(
            f"conf/benchmark/{benchmark.name}.yaml: judge_format {benchmark.judge_format!r} but the registry "
            f"says {spec.judge_format!r}"
        )
    fmt = make_format(
        spec.judge_format,
        benchmark.get("scale"),
        benchmark.get("decimals", 0),
        benchmark.get("allow_tie", True),
    )
    fmt.check_policy(benchmark.failure_policy)
    return fmt


def sample_votes(cfg: DictConfig, fmt: JudgeFormat, views: list[View], name: str):
    """k generations per view from the configured backend (hf model or simulated judge)."""
    if cfg.backend.name == "simulated":
        sim = SimulatedJudge(
            cfg.backend.error_rate,
            cfg.backend.position_bias,
            cfg.backend.parse_failure_rate,
            cfg.backend.seed,
        )
        gold = [fmt.to_shown(v.item.gold, v.order) for v in views]
        return [
            sim.judge(fmt, v.key, g, len(v.order), cfg.voting.k) for v, g in zip(views, gold, strict=True)
        ], None
    from flexjudge.backbones.loader import load_judge

    judge = load_judge(cfg.judge, device=cfg.backend.device)
    prompts = [
        render_prompt(
            judge.tokenizer, fmt.messages(v.item.question, v.answers, v.item.media), cfg.prefill_think
        )
        for v in views
    ]
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
    return gens, judge.manifest


def run(cfg: DictConfig) -> dict[str, Any]:
    """Judge every benchmark item with k sampled votes per view; write predictions.jsonl and metrics.json."""
    fmt = judge_format(cfg.benchmark)
    check_budget(cfg.budget)
    seed_everything(cfg.seed)
    setup_torch(cfg.threads)
    out = Path(cfg.out_dir)
    started = time.time()
    ids = dict(
        backbone=cfg.backbone.name,
        variant=cfg.variant,
        benchmark=cfg.benchmark.name,
        voting=cfg.voting.name,
        budget=cfg.budget.name,
    )
    name = "eval-" + "-".join(ids.values())
    with start_tracking(cfg.logger, stage="evaluate", name=name, config=to_plain(cfg)) as tracker:
        items = [p.as_judge_item() for p in read_pair_items(cfg.benchmark.path)]
        if cfg.limit is not None:
            items = items[: cfg.limit]
        views = build_views(items, cfg.benchmark.order, cfg.benchmark.seed)
        gens, manifest = sample_votes(cfg, fmt, views, name)
        rows = judge_items(
            fmt,
            views,
            gens,
            prefill_think=cfg.prefill_think,
            failure_policy=cfg.benchmark.failure_policy,
            aggregation=cfg.benchmark.aggregation,
        )
        metrics = summarize(fmt, rows, n_boot=cfg.bootstrap, seed=cfg.seed)
        seconds = time.time() - started
        record = {
            **ids,
            "judge_manifest": str(cfg.judge),
            "backend": cfg.backend.name,
            "k": cfg.voting.k,
            "metrics": metrics,
            "generated_tokens": sum(v["n_tokens"] for r in rows for v in r["votes"]),
            "seconds": round(seconds, 1),
            "sft_manifest": (manifest or {}).get("sft_data"),
        }
        write_jsonl(out / "predictions.jsonl", rows)
        write_json(out / "metrics.json", record)
        tracker.summary({k: v for k, v in metrics.items() if isinstance(v, int | float)})
    headline = headline_metric(fmt)
    log.info(
        "%s: %s %.3f, parse failures %.3f (%d items, k=%d, %.0fs)",
        name,
        headline,
        metrics[headline],
        metrics["parse_failure_rate"],
        metrics["n_items"],
        cfg.voting.k,
        seconds,
    )
    return record


main = stage_main("evaluate")(run)

if __name__ == "__main__":
    main()
