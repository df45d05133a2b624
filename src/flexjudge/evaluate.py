"""Stage `evaluate`: one judge × one benchmark × one voting setting × one budget → predictions + metrics."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from flexjudge.app import seed_everything, setup_torch, stage_main, to_plain
from flexjudge.benchmarks.registry import get_benchmark
from flexjudge.generate.budget import Budget
from flexjudge.generate.hf import SamplingParams
from flexjudge.generate.runner import Shard, VoteCounts
from flexjudge.generate.session import judge_votes
from flexjudge.generate.simulated import SimulatedJudge
from flexjudge.io import write_json, write_jsonl
from flexjudge.judge.evaluation import (
    View,
    build_views,
    headline_metric,
    judge_items,
    summarize,
    thinking_stats,
)
from flexjudge.judge.formats import JudgeFormat, make_format
from flexjudge.tracking import start_tracking

log = logging.getLogger(__name__)


def judge_format(benchmark: DictConfig) -> JudgeFormat:
    """The benchmark's judge format, checked against the registry and its failure policy."""
    spec = get_benchmark(benchmark.name)
    for key in ("modality", "adapter", "judge_format", "allow_tie", "decimals"):
        if benchmark[key] != getattr(spec, key):
            raise ValueError(
                f"conf/benchmark/{benchmark.name}.yaml: {key} {benchmark[key]!r} but the registry "
                f"(flexjudge.benchmarks.registry) says {getattr(spec, key)!r}"
            )
    fmt = make_format(
        spec.judge_format,
        benchmark.get("scale"),
        benchmark.get("decimals", 0),
        benchmark.get("allow_tie", True),
    )
    fmt.check_policy(benchmark.failure_policy)
    return fmt


def media_settings(benchmark: DictConfig):
    """The benchmark protocol's media sizes and rates (conf/benchmark/<name>.yaml)."""
    from flexjudge.backbones.media import MediaSettings

    return MediaSettings(
        image_max_pixels=benchmark.image_max_pixels,
        video_max_pixels=benchmark.video_max_pixels,
        video_fps=benchmark.video_fps,
    )


def load_items(cfg: DictConfig):
    """The benchmark's items through its adapter (official format), with the missing-media policy."""
    from flexjudge.benchmarks.base import Source, load_benchmark
    from flexjudge.benchmarks.registry import ADAPTERS

    b = cfg.benchmark
    source = Source(
        Path(b.path), Path(b.media_root), Path(cfg.paths.results) / "media" / b.name, b.on_missing
    )
    loaded = load_benchmark(ADAPTERS[b.adapter], source, to_plain(b.options), cfg.limit)
    if loaded.skipped:
        log.warning(
            "%s: %d rows left out for missing media (on_missing=skip), e.g. %s",
            b.name,
            loaded.skipped,
            loaded.skipped_examples[:2],
        )
    if not loaded.items:
        raise ValueError(f"{b.path}: no items to judge ({loaded.skipped} rows skipped for missing media)")
    return loaded


def sample_votes(cfg: DictConfig, fmt: JudgeFormat, views: list[View], name: str):
    """k generations per view from the configured backend: (generations or None on shards > 0, manifest, counts)."""
    if cfg.backend.name == "simulated":
        sim = SimulatedJudge(
            cfg.backend.error_rate,
            cfg.backend.position_bias,
            cfg.backend.parse_failure_rate,
            cfg.backend.seed,
        )
        gold = [fmt.to_shown(v.item.gold, v.order) for v in views]
        gens = [
            sim.judge(fmt, v.key, g, len(v.order), cfg.voting.k) for v, g in zip(views, gold, strict=True)
        ]
        n = len(views) * cfg.voting.k
        return gens, None, VoteCounts(total=n, cached=0, generated=n)
    budget = Budget.from_conf(cfg.budget)
    budget.check(cfg.max_new_tokens, f"conf/budget/{cfg.budget.name}.yaml with max_new_tokens")
    params = SamplingParams(
        max_new_tokens=cfg.max_new_tokens,
        temperature=cfg.benchmark.temperature,
        top_p=cfg.benchmark.top_p,
        n=cfg.voting.k,
        seed=cfg.seed,
    )
    return judge_votes(
        cfg.judge,
        cfg.backend,
        [fmt.messages(v.item.question, v.answers, v.item.media, answer_media=v.answer_media) for v in views],
        params,
        media=[v.media for v in views],
        media_settings=media_settings(cfg.benchmark),
        budget=budget,
        prefill_think=cfg.prefill_think,
        cache=cfg.cache,
        shard=Shard.resolve(cfg.shard.index, cfg.shard.count),
        wait_s=cfg.shard.wait_s,
        desc=name,
        progress=cfg.progress,
    )


def run(cfg: DictConfig) -> dict[str, Any]:
    """Judge every benchmark item with k sampled votes per view; write predictions.jsonl and metrics.json."""
    fmt = judge_format(cfg.benchmark)
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
        loaded = load_items(cfg)
        items = loaded.items
        views = build_views(items, cfg.benchmark.order, cfg.benchmark.seed)
        gens, manifest, counts = sample_votes(cfg, fmt, views, name)
        log.info(
            "%s: generated %d of %d votes (%d from the cache)",
            name,
            counts.generated,
            counts.total,
            counts.cached,
        )
        if gens is None:  # a shard other than 0: its votes are in the cache, shard 0 writes the results
            return {**ids, "shard_votes": asdict(counts)}
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
            "votes": asdict(counts),
            "data": loaded.report(),
            "thinking": thinking_stats(rows),
            "seconds": round(seconds, 1),
            "sft_data": (manifest or {}).get("sft_data"),
            "sft_manifest": (manifest or {}).get("sft_provenance"),
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
