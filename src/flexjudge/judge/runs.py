"""One judge on one benchmark configuration (benchmark=<name>: the registry's node, + voting + budget): the format checked
against the registry, the items through the benchmark's adapter, k votes per view from the configured
backend, and the scored rows with their metrics and run record. The evaluate stage writes what this returns.
A group of evaluations (`evaluations=[...]`) is composed member by member here (`group_configs`), and its
votes are generated in shared batches first (`prefetch_votes`)."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from typing import Any

from omegaconf import DictConfig

from flexjudge.benchmarks.config import with_benchmark_overrides
from flexjudge.benchmarks.registry import get_benchmark
from flexjudge.core.app import compose_like_this_run
from flexjudge.core.io import stable_hash
from flexjudge.generate.budget import ANSWER_FORCING_DEVIATION, Budget
from flexjudge.generate.engine import SamplingParams, backend_name
from flexjudge.generate.runner import Shard, VoteCounts
from flexjudge.generate.session import JudgeSession, media_key
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


def judge_protocol(benchmark: DictConfig, baseline: str | None = None) -> JudgeProtocol:
    """The benchmark's checked protocol: its judge format and its deviations from the registry. A baseline
    judge (`backbone.baseline`: llava_critic, prometheus_vision) answers in its own published format
    (`protocol.baselines`), recorded among the deviations."""
    deviations = protocol_deviations(benchmark)
    if baseline:
        from flexjudge.protocol.baselines import baseline_format
        from flexjudge.protocol.formats import ScoreScale

        scale = benchmark.get("scale")
        fmt = baseline_format(
            baseline,
            benchmark.judge_format,
            ScoreScale(float(scale[0]), float(scale[1]), benchmark.get("decimals", 0)) if scale else None,
            benchmark.get("allow_tie", True),
        )
        deviations += [f"judged in the {baseline} judge's own format {fmt.name}", *fmt.deviations]
    else:
        fmt = make_format(
            benchmark.judge_format,
            benchmark.get("scale"),
            benchmark.get("decimals", 0),
            benchmark.get("allow_tie", True),
        )
    fmt.check_policy(benchmark.failure_policy)
    return JudgeProtocol(fmt, deviations)


def run_protocol(cfg: DictConfig) -> JudgeProtocol:
    """The protocol of one evaluation: its benchmark's, in the backbone's own format if it is a baseline."""
    return judge_protocol(cfg.benchmark, (cfg.get("backbone") or {}).get("baseline"))


def budget_deviations(cfg: DictConfig) -> list[str]:
    """What the run's thinking budget adds to the paper's protocol (answer forcing)."""
    return [ANSWER_FORCING_DEVIATION] if cfg.budget.get("answer_forcing") else []


def prefills_think(cfg: DictConfig, fmt: JudgeFormat) -> bool:
    """Whether the votes open inside <think>: prefill_think, for formats that reason there (not a baseline's)."""
    return bool(cfg.prefill_think) and fmt.thinks


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
    takes = judge_takes(cfg)
    if takes is not None:  # of the first `limit` items, those with media the judge cannot take are counted
        loaded = loaded.without_media(takes, b.name)
        if loaded.unsupported:
            log.warning(
                "%s: %d items left out: their media are of a kind the judge %s does not take (%s); by "
                "subset %s",
                b.name,
                sum(loaded.unsupported.values()),
                cfg.judge,
                sorted(takes) or "text only",
                loaded.unsupported,
            )
    if loaded.skipped:
        log.warning(
            "%s: %d rows left out for missing media (on_missing=skip), e.g. %s",
            b.name,
            loaded.skipped,
            loaded.skipped_examples[:2],
        )
    if not loaded.items:
        raise ValueError(
            f"{b.path}: no items to judge ({loaded.skipped} rows skipped for missing media, "
            f"{sum(loaded.unsupported.values())} for media the judge does not take)"
        )
    return loaded


def judge_takes(cfg: DictConfig) -> set[str] | None:
    """The media kinds the configured judge takes (its judge.json `processor`); None where that is not
    known here (the simulated judge takes anything; a server's model is the server's business)."""
    from flexjudge.backbones.loader import media_taken

    if backend_name(cfg.backend) in ("simulated", "openai"):
        return None
    return media_taken(cfg.judge)


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
    ask = vote_ask(cfg, fmt, views)
    return session.votes(
        ask.messages,
        ask.params,
        media=ask.media,
        media_settings=ask.media_settings,
        budget=ask.budget,
        prefill_think=ask.prefill_think,
        answers=ask.answers,
        cache=cfg.cache,
        shard=Shard.resolve(cfg.shard.index, cfg.shard.count),
        wait_s=cfg.shard.wait_s,
        desc=name,
        progress=cfg.progress,
    )


@dataclass
class VoteAsk:
    """What one evaluation asks a model backend for: a chat, its media and its answer tag count per view,
    the sampling settings (k votes each), the thinking budget and the media sizes."""

    messages: list[list[dict[str, Any]]]
    media: list[tuple[dict[str, Any], ...]]
    params: SamplingParams
    budget: Budget
    media_settings: Any
    prefill_think: bool
    answers: list[int | None]

    def batch_key(self) -> str:
        """Evaluations with equal keys can share decoding batches: k, temperature, top-p and media sizes
        aside (votes are keyed one by one, and each request carries its own sampling and media settings)."""
        shared = {k: v for k, v in self.params.key().items() if k not in ("t", "top_p")}
        return stable_hash(shared, self.budget.key(), self.prefill_think)

    def sampling(self) -> tuple[float, float]:
        """This evaluation's (temperature, top_p), as its requests carry them in a pooled call."""
        return (self.params.temperature, self.params.top_p)


def vote_ask(cfg: DictConfig, fmt: JudgeFormat, views: list[View]) -> VoteAsk:
    """The requests of one evaluation on a model backend (its budget checked against max_new_tokens)."""
    budget = Budget.from_conf(cfg.budget)
    budget.check(cfg.max_new_tokens, f"conf/budget/{cfg.budget.name}.yaml with max_new_tokens")
    if not cfg.reasoning and cfg.prefill_think and fmt.thinks:
        raise ValueError(
            "reasoning=false asks the judge to answer at once, but prefill_think=true opens its reply inside "
            "<think>; set prefill_think=false (an answer-first judge: docs/training.md)"
        )
    params = SamplingParams(
        max_new_tokens=cfg.max_new_tokens,
        temperature=cfg.benchmark.temperature,
        top_p=cfg.benchmark.top_p,
        n=cfg.voting.k,
        seed=cfg.seed,
    )
    return VoteAsk(
        [
            fmt.messages(
                v.item.question, v.answers, v.item.media, answer_media=v.answer_media, reasoning=cfg.reasoning
            )
            for v in views
        ],
        [v.media for v in views],
        params,
        budget,
        media_settings(cfg.benchmark),
        prefills_think(cfg, fmt),
        [fmt.answer_tags(len(v.answers)) for v in views],
    )


def prefetch_votes(
    configs: list[DictConfig], loaded: list[Any], session: JudgeSession | None
) -> dict[str, Any]:
    """Generate the votes of a group's evaluations (`loaded[i]`: the items of `configs[i]`) in shared
    decoding batches, into the per-vote cache.

    Small benchmarks each fill one short batch, and a batch costs about as many decoding steps as it has
    tokens to write, however few rows it has; so the group's requests with the same token budget, seed and
    thinking budget are pooled into one call (each prompt once per sampling and media setting, with the
    most votes any evaluation asks of it), each request with its own temperature, top-p, media sizes and
    vote count. The keys are the ones each evaluation's own call computes, so every evaluation then reads
    all its votes from the cache. Batches are made of other rows than in a run alone, which can change a
    vote by float rounding. Skipped for the simulated judge, without a cache, or on shards."""
    if session is None or len(configs) < 2:
        return {"skipped": "simulated judge" if session is None else "one evaluation"}
    if any(c.cache is None for c in configs) or len({str(c.cache) for c in configs}) != 1:
        return {"skipped": "no shared per-vote cache"}
    if any(Shard.resolve(c.shard.index, c.shard.count).count > 1 for c in configs):
        return {"skipped": "sharded run"}
    # batch key -> (an ask, request -> its row: chat, media, tags, sampling, media settings, votes)
    pools: dict[str, tuple[VoteAsk, dict[str, dict[str, Any]]]] = {}
    for c, items in zip(configs, loaded, strict=True):
        views = build_views(items.items, c.benchmark.order, c.benchmark.seed)
        ask = vote_ask(c, run_protocol(c).fmt, views)
        _, rows = pools.setdefault(ask.batch_key(), (ask, {}))
        sampling, settings = ask.sampling(), ask.media_settings
        for chat, media, tags in zip(ask.messages, ask.media, ask.answers, strict=True):
            # one row per set of votes: named by what their keys hold (`SamplingParams.key`: top-p only
            # where sampled; `media_key`: sizes only with media; the tag count only under answer forcing)
            forced = tags if ask.budget.answer_forcing else None
            name = stable_hash(chat, media_key(media, settings), ask.params.key(), forced)
            row = rows.setdefault(
                name, dict(chat=chat, media=media, tags=tags, sampling=sampling, settings=settings, k=0)
            )
            row["k"] = max(row["k"], ask.params.n)
    counts = []
    for i, (ask, rows) in enumerate(pools.values(), 1):
        pooled = list(rows.values())
        _, _, got = session.votes(
            [r["chat"] for r in pooled],
            ask.params,
            media=[r["media"] for r in pooled],
            media_settings=[r["settings"] for r in pooled],
            budget=ask.budget,
            prefill_think=ask.prefill_think,
            answers=[r["tags"] for r in pooled],
            sampling=[r["sampling"] for r in pooled],
            votes=[r["k"] for r in pooled],
            cache=configs[0].cache,
            desc=f"group pool {i}/{len(pools)}",
            progress=configs[0].progress,
        )
        counts.append({"prompts": len(pooled), "k": sorted({r["k"] for r in pooled}), **asdict(got)})
    return {"pools": len(pools), "calls": counts}


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
    cfg: DictConfig, session: JudgeSession | None, protocol: JudgeProtocol, name: str, loaded=None
) -> Judged | dict:
    """Judge every item with k sampled votes per view and score them; on a shard other than 0 only its
    vote counts (the votes are in the cache and shard 0 writes the results). `loaded`: the items, when
    the caller has read them already (`load_items`)."""
    started = time.time()
    fmt = protocol.fmt
    ids = run_ids(cfg)
    loaded = load_items(cfg) if loaded is None else loaded
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
        prefill_think=prefills_think(cfg, fmt),
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
        "protocol_deviations": protocol.deviations + budget_deviations(cfg),
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
    configs = []
    for entry in cfg.evaluations:
        benchmark, voting, budget = parse_evaluation(entry)
        chosen = [f"benchmark={benchmark}", f"voting={voting}", f"budget={budget}"]
        member = compose_like_this_run("evaluate", chosen, drop={"evaluations", "out_dir"})
        configs.append(with_benchmark_overrides(member))
    return configs
