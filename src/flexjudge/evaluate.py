"""Stage `evaluate`: one judge × one benchmark × one voting setting × one budget → predictions + metrics.

With `evaluations=[<benchmark>/<voting>/<budget>, ...]` one process judges a whole group with the judge
loaded once: each evaluation is composed exactly as its own run would be (the group's overrides plus its
benchmark, voting and budget) and writes to its own folder. The group's votes are first generated in shared
batches into the per-vote cache (`judge.runs.prefetch_votes`), from which each evaluation then reads them.
The judging itself is `flexjudge.judge.runs`.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from flexjudge.benchmarks import config as benchmark_configs
from flexjudge.benchmarks.config import with_benchmark_overrides
from flexjudge.benchmarks.registry import get_benchmark
from flexjudge.core.app import setup_torch, stage_main, stage_run
from flexjudge.core.io import write_json, write_jsonl
from flexjudge.generate.session import JudgeSession
from flexjudge.judge.runs import (
    group_configs,
    judge_benchmark,
    load_items,
    open_session,
    prefetch_votes,
    run_ids,
    run_protocol,
)

log = logging.getLogger(__name__)
benchmark_configs.register()  # the `benchmark` config group: one node per registry entry


def run(cfg: DictConfig) -> dict[str, Any]:
    """One evaluation, or with `evaluations` a group of them sharing one loaded judge."""
    if cfg.get("evaluations"):
        setup_torch(cfg.threads)  # the group's pooled votes come before any member's own stage start-up
        return run_group(cfg)
    return evaluate(with_benchmark_overrides(cfg), open_session(cfg))


def run_group(cfg: DictConfig) -> dict[str, Any]:
    """Judge every evaluation of the group with one session; write group.json beside the hydra config."""
    started = time.time()
    configs = group_configs(cfg)
    for member in configs:  # every member's format checked before any judging starts
        run_protocol(member)
    judges = {str(c.judge) for c in configs}
    if len(judges) != 1:
        raise ValueError(f"evaluations of one group must share one judge, got {sorted(judges)}")
    session = open_session(cfg)
    loaded = [load_items(member) for member in configs]  # each benchmark's items read once
    pooled = prefetch_votes(configs, loaded, session)  # the group's votes in shared batches, into the cache
    records = []
    for i, (member, items) in enumerate(zip(configs, loaded, strict=True), 1):
        b = member.benchmark.name
        log.info("group %d/%d: %s/%s/%s", i, len(configs), b, member.voting.name, member.budget.name)
        records.append(evaluate(member, session, items))
    keep = ("benchmark", "voting", "budget")
    summary = {
        "evaluations": [
            {
                **{k: r[k] for k in keep},
                "votes": r.get("votes") or r.get("shard_votes"),
                "seconds": r.get("seconds"),
            }
            for r in records
        ],
        "pooled_votes": pooled,
        "weight_loads": session.loads if session else 0,
        "seconds": round(time.time() - started, 1),
    }
    write_json(Path(cfg.out_dir) / "group.json", summary)
    log.info("group of %d evaluations in %.0fs", len(configs), summary["seconds"])
    return summary


def evaluate(cfg: DictConfig, session: JudgeSession | None, loaded=None) -> dict[str, Any]:
    """Judge every benchmark item with k sampled votes per view; write predictions.jsonl and metrics.json
    (`loaded`: the items, if read already)."""
    protocol = run_protocol(cfg)
    out = Path(cfg.out_dir)
    name = "eval-" + "-".join(run_ids(cfg).values())
    with stage_run(cfg, "evaluate", name, torch_threads=True) as st:
        judged = judge_benchmark(cfg, session, protocol, name, loaded)
        if isinstance(judged, dict):  # a shard other than 0
            return judged
        metrics = judged.record["metrics"]
        write_jsonl(out / "predictions.jsonl", judged.rows)
        write_json(out / "config.json", st.config)  # this evaluation's composed config (also in a group)
        write_json(out / "metrics.json", judged.record)
        st.tracker.summary({k: v for k, v in metrics.items() if isinstance(v, int | float)})
    headline = get_benchmark(cfg.benchmark.name).headline
    log.info(
        "%s: %s %s, parse failures %.3f (%d items, k=%d, %.0fs)",
        name,
        headline,
        metrics.get(headline),
        metrics["parse_failure_rate"],
        metrics["n_items"],
        cfg.voting.k,
        judged.record["seconds"],
    )
    return judged.record


main = stage_main("evaluate")(run)

if __name__ == "__main__":
    main()
