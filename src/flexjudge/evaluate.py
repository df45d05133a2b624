"""Stage `evaluate`: one judge × one benchmark × one voting setting × one budget → predictions + metrics.

With `evaluations=[<benchmark>/<voting>/<budget>, ...]` one process judges a whole group with the judge
loaded once: each evaluation is composed exactly as its own run would be (the group's overrides plus its
benchmark, voting and budget) and writes to its own folder, so outputs do not depend on the grouping.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from flexjudge.benchmarks.registry import get_benchmark
from flexjudge.core.app import seed_everything, setup_torch, stage_main, to_plain
from flexjudge.core.io import write_json, write_jsonl
from flexjudge.core.tracking import start_tracking
from flexjudge.generate.budget import Budget
from flexjudge.generate.engine import SamplingParams
from flexjudge.generate.runner import Shard, VoteCounts
from flexjudge.generate.session import JudgeSession
from flexjudge.generate.simulated import SimulatedJudge
from flexjudge.judge.scoring import (
    View,
    build_views,
    headline_metric,
    judge_items,
    summarize,
    thinking_stats,
)
from flexjudge.protocol.formats import JudgeFormat, make_format

log = logging.getLogger(__name__)


def protocol_deviations(benchmark: DictConfig) -> list[str]:
    """What a run changes from the benchmark's registered protocol that the registry allows (a judge format
    among its alternatives); anything else that disagrees with the registry is an error."""
    spec = get_benchmark(benchmark.name)
    deviations = []
    for key in ("modality", "adapter", "judge_format", "allow_tie", "decimals"):
        if benchmark[key] == getattr(spec, key):
            continue
        if key == "judge_format" and benchmark[key] in spec.alt_formats:
            deviations.append(f"judge_format {benchmark[key]} instead of the protocol's {spec.judge_format}")
            continue
        allowed = (
            f" (or one of {list(spec.alt_formats)})" if key == "judge_format" and spec.alt_formats else ""
        )
        raise ValueError(
            f"conf/benchmark/{benchmark.name}.yaml: {key} {benchmark[key]!r} but the registry "
            f"(flexjudge.benchmarks.registry) says {getattr(spec, key)!r}{allowed}"
        )
    return deviations


def judge_format(benchmark: DictConfig) -> JudgeFormat:
    """The benchmark's judge format, checked against the registry and its failure policy."""
    protocol_deviations(benchmark)
    fmt = make_format(
        benchmark.judge_format,
        benchmark.get("scale"),
        benchmark.get("decimals", 0),
        benchmark.get("allow_tie", True),
    )
    fmt.check_policy(benchmark.failure_policy)
    return fmt


def media_settings(benchmark: DictConfig):
    """The benchmark protocol's media sizes and rates (conf/benchmark/<name>.yaml)."""
    from flexjudge.backbones.inputs import MediaSettings

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


def sample_votes(cfg: DictConfig, session: JudgeSession, fmt: JudgeFormat, views: list[View], name: str):
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
    return session.votes(
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
    """One evaluation, or with `evaluations` a group of them sharing one loaded judge."""
    if cfg.get("evaluations"):
        return run_group(cfg)
    return evaluate(cfg, JudgeSession(cfg.judge, cfg.backend))


def parse_evaluation(entry: str) -> tuple[str, str, str]:
    """'<benchmark>/<voting>/<budget>' → its three option names."""
    parts = str(entry).split("/")
    if len(parts) != 3 or not all(parts):
        raise ValueError(
            f"evaluations entry {entry!r}: expected <benchmark>/<voting>/<budget>, e.g. nisqa/k1/none"
        )
    return parts[0], parts[1], parts[2]


def group_configs(cfg: DictConfig) -> list[DictConfig]:
    """Each evaluation of a group, composed as its own run would be: this run's command-line overrides
    (less `evaluations` and `out_dir`) plus its benchmark, voting and budget."""
    from hydra import compose
    from hydra.core.hydra_config import HydraConfig

    skip = {"evaluations", "out_dir", "benchmark", "voting", "budget"}
    base = [o for o in HydraConfig.get().overrides.task if o.split("=", 1)[0].lstrip("+~") not in skip]
    configs = []
    for entry in cfg.evaluations:
        benchmark, voting, budget = parse_evaluation(entry)
        overrides = [*base, f"benchmark={benchmark}", f"voting={voting}", f"budget={budget}"]
        configs.append(compose(config_name="evaluate", overrides=overrides))
    return configs


def run_group(cfg: DictConfig) -> dict[str, Any]:
    """Judge every evaluation of the group with one session; write group.json beside the hydra config."""
    started = time.time()
    configs = group_configs(cfg)
    for member in configs:  # every member's format checked before any judging starts
        judge_format(member.benchmark)
    judges = {str(c.judge) for c in configs}
    if len(judges) != 1:
        raise ValueError(f"evaluations of one group must share one judge, got {sorted(judges)}")
    session = JudgeSession(cfg.judge, cfg.backend)
    records = []
    for i, member in enumerate(configs, 1):
        log.info(
            "group %d/%d: %s/%s/%s",
            i,
            len(configs),
            member.benchmark.name,
            member.voting.name,
            member.budget.name,
        )
        records.append(evaluate(member, session))
    summary = {
        "evaluations": [
            {
                "benchmark": r["benchmark"],
                "voting": r["voting"],
                "budget": r["budget"],
                "votes": r.get("votes") or r.get("shard_votes"),
                "seconds": r.get("seconds"),
            }
            for r in records
        ],
        "weight_loads": session.loads,
        "seconds": round(time.time() - started, 1),
    }
    write_json(Path(cfg.out_dir) / "group.json", summary)
    log.info("group of %d evaluations in %.0fs", len(configs), summary["seconds"])
    return summary


def evaluate(cfg: DictConfig, session: JudgeSession) -> dict[str, Any]:
    """Judge every benchmark item with k sampled votes per view; write predictions.jsonl and metrics.json."""
    fmt = judge_format(cfg.benchmark)
    deviations = protocol_deviations(cfg.benchmark)
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
        gens, manifest, counts = sample_votes(cfg, session, fmt, views, name)
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
            "judge_format": fmt.name,
            "protocol_deviations": deviations,
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
        write_json(out / "config.json", to_plain(cfg))  # this evaluation's composed config (also in a group)
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
