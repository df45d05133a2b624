"""One judge on one benchmark configuration (benchmark=<name>: the registry's node, + voting + budget): the format checked
against the registry, the items through the benchmark's adapter, k votes per view from the configured
backend, and the scored rows with their metrics and run record. The evaluate stage writes what this returns."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from typing import Any

from omegaconf import DictConfig

from flexjudge.benchmarks.registry import get_benchmark
from flexjudge.generate.budget import Budget
from flexjudge.generate.engine import SamplingParams, backend_name
from flexjudge.generate.runner import Shard, VoteCounts
from flexjudge.generate.session import JudgeSession
from flexjudge.generate.simulated import SimulatedJudge
from flexjudge.judge.scoring import View, build_views, judge_items, summarize, thinking_stats
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
            f"benchmark {benchmark.name}: {key} {benchmark[key]!r} but the registry "
            f"(flexjudge.benchmarks.registry) says {getattr(spec, key)!r}{allowed}"
        )
    return deviations


@dataclass(frozen=True)
class JudgeProtocol:
    """A benchmark's judge format, checked once against the registry and its failure policy, and what the
    run changes from the registered protocol (recorded in metrics.json)."""

    fmt: JudgeFormat
    deviations: list[str]


def judge_protocol(benchmark: DictConfig) -> JudgeProtocol:
    """The benchmark's checked protocol: its judge format and its deviations from the registry."""
    deviations = protocol_deviations(benchmark)
    fmt = make_format(
        benchmark.judge_format,
        benchmark.get("scale"),
        benchmark.get("decimals", 0),
        benchmark.get("allow_tie", True),
    )
    fmt.check_policy(benchmark.failure_policy)
    return JudgeProtocol(fmt, deviations)


def media_settings(benchmark: DictConfig):
    """The benchmark protocol's media sizes and rates (its registry entry)."""
    from flexjudge.backbones.inputs import MediaSettings

    return MediaSettings(
        image_max_pixels=benchmark.image_max_pixels,
        video_max_pixels=benchmark.video_max_pixels,
        video_fps=benchmark.video_fps,
    )


def load_items(cfg: DictConfig):
    """The benchmark's items through its adapter (official format), with the missing-media policy."""
    from flexjudge.benchmarks.loading import load_configured

    b = cfg.benchmark
    loaded = load_configured(b, cfg.paths.results, cfg.limit)
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


def open_session(cfg: DictConfig) -> JudgeSession | None:
    """The judge session of a model backend (loaded on first use), or None for the simulated judge."""
    if backend_name(cfg.backend) == "simulated":
        return None
    return JudgeSession(cfg.judge, cfg.backend)


def sample_votes(
    cfg: DictConfig, session: JudgeSession | None, fmt: JudgeFormat, views: list[View], name: str
):
    """k generations per view from the configured backend: (generations or None on shards > 0, manifest, counts)."""
    if backend_name(cfg.backend) == "simulated":
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


def run_ids(cfg: DictConfig) -> dict[str, str]:
    """What names one evaluation: backbone, variant, benchmark, voting and budget."""
    return dict(
        backbone=cfg.backbone.name,
        variant=cfg.variant,
        benchmark=cfg.benchmark.name,
        voting=cfg.voting.name,
        budget=cfg.budget.name,
    )


@dataclass
class Judged:
    """One finished evaluation: the scored rows (predictions.jsonl) and the run record (metrics.json)."""

    rows: list[dict[str, Any]]
    record: dict[str, Any]


def judge_benchmark(
    cfg: DictConfig, session: JudgeSession | None, protocol: JudgeProtocol, name: str
) -> Judged | dict:
    """Judge every item with k sampled votes per view and score them; on a shard other than 0 only its
    vote counts (the votes are in the cache and shard 0 writes the results)."""
    started = time.time()
    fmt = protocol.fmt
    ids = run_ids(cfg)
    loaded = load_items(cfg)
    views = build_views(loaded.items, cfg.benchmark.order, cfg.benchmark.seed)
    gens, manifest, counts = sample_votes(cfg, session, fmt, views, name)
    log.info(
        "%s: generated %d of %d votes (%d from the cache)",
        name,
        counts.generated,
        counts.total,
        counts.cached,
    )
    if gens is None:
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
    record = {
        **ids,
        "judge_manifest": str(cfg.judge),
        "backend": cfg.backend.name,
        "k": cfg.voting.k,
        "judge_format": fmt.name,
        "protocol_deviations": protocol.deviations,
        "metrics": metrics,
        "generated_tokens": sum(v["n_tokens"] for r in rows for v in r["votes"]),
        "votes": asdict(counts),
        "data": loaded.report(),
        "thinking": thinking_stats(rows),
        "seconds": round(time.time() - started, 1),
        "sft_data": (manifest or {}).get("sft_data"),
        "sft_manifest": (manifest or {}).get("sft_provenance"),
    }
    return Judged(rows, record)
