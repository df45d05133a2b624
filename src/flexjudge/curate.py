"""Stage `curate`: read a pool, filter, deduplicate, decontaminate, and split off a held-out set.

Steps, each counted in manifest.json: read (bad rows error or are counted by reason), size filter,
exact duplicates, near duplicates (MinHash), contamination with the prompts of the registered
benchmarks (word n-gram overlap), then a seeded split by question into the SFT pool and a disjoint
held-out set (the hh_harmless_heldout benchmark).
"""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from flexjudge.core.app import CONF_DIR, seed_everything, stage_main, to_plain
from flexjudge.core.io import DataError, sha256_file, stable_hash, write_json, write_jsonl
from flexjudge.core.tracking import start_tracking
from flexjudge.data.dedup import (
    NgramIndex,
    RowWords,
    decontaminate,
    drop_exact_duplicates,
    drop_near_duplicates,
)
from flexjudge.data.pools import PoolRow, read_pool

log = logging.getLogger(__name__)
EXAMPLES = 10  # ids of removed rows listed per filter


def row_chars(row: PoolRow) -> int:
    """Size of a row as the judge sees it (question + both answers)."""
    return len(row.question) + sum(len(a) for a in row.answers)


def split_pool(
    rows: list[PoolRow], *, heldout_size: int, pool_size: int | None, seed: int
) -> tuple[list[PoolRow], list[PoolRow]]:
    """Seeded split into (pool, held-out) by question, so the sides share no question. Held-out rows
    need a decided preference (A or B): ties stay in the pool."""
    groups: dict[str, list[PoolRow]] = defaultdict(list)
    for row in rows:
        groups[row.question].append(row)
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    heldout: list[PoolRow] = []
    pool: list[PoolRow] = []
    for key in keys:
        decided = all(r.preferred != "tie" for r in groups[key])
        (heldout if decided and len(heldout) < heldout_size else pool).extend(groups[key])
    if len(heldout) < heldout_size:
        raise ValueError(
            f"only {len(heldout)} decided rows could be held out of {len(rows)}; lower curate.heldout_size"
        )
    if pool_size is not None:
        if len(pool) < pool_size:
            raise ValueError(
                f"only {len(pool)} rows left for the pool; curate.pool_size={pool_size} is too large"
            )
        pool = pool[:pool_size]
    return pool, heldout


def heldout_row(row: PoolRow) -> dict[str, str]:
    """A held-out pair in the hh_heldout benchmark's schema (chosen, rejected)."""
    chosen, rejected = row.answers if row.preferred == "A" else row.answers[::-1]
    return {
        "id": row.id,
        "question": row.question,
        "chosen": chosen,
        "rejected": rejected,
        "source": row.source,
    }


def benchmark_prompts(cfg: DictConfig, report: dict[str, Any]) -> Iterator[str]:
    """The questions of every benchmark to decontaminate against, read by their own adapters from the
    files their conf/benchmark/<name>.yaml names; benchmarks without files are listed in `report`."""
    from flexjudge.benchmarks.base import Source, load_benchmark
    from flexjudge.benchmarks.registry import ADAPTERS, BENCHMARKS

    d = cfg.decontaminate
    names = sorted(BENCHMARKS) if d.benchmarks == "all" else list(d.benchmarks)
    for name in names:
        if name == "hh_harmless_heldout":  # curate's own held-out split: disjoint by construction
            continue
        conf = OmegaConf.merge({"paths": cfg.paths}, OmegaConf.load(CONF_DIR / "benchmark" / f"{name}.yaml"))
        path, media_root = Path(conf.path), Path(conf.media_root)
        if not path.exists():
            if d.on_missing == "error":
                raise DataError(
                    f"decontamination: benchmark {name} has no data at {path}; build the minis or set "
                    "paths.benchmarks (or decontaminate.on_missing=skip to list it as unchecked)"
                )
            report["unchecked"].append(name)
            continue
        source = Source(path, media_root, Path(cfg.paths.results) / "media" / name, "skip")
        loaded = load_benchmark(ADAPTERS[conf.adapter], source, to_plain(conf.options))
        report["checked"][name] = len(loaded.items)
        for item in loaded.items:
            yield item.question


def run(cfg: DictConfig) -> dict[str, Any]:
    """Write pool.jsonl, heldout.jsonl and manifest.json (counts after each step, hashes, removed ids)."""
    seed_everything(cfg.seed)
    out = Path(cfg.out_dir)
    plain = to_plain(cfg)
    with start_tracking(cfg.logger, stage="curate", name="curate", config=plain) as tracker:
        p = cfg.pool
        rows, skipped = read_pool(
            p.path, p.format, on_bad_row=p.on_bad_row, fields=to_plain(p.fields), seed=cfg.seed
        )
        counts: dict[str, Any] = {"read": len(rows) + sum(skipped.values()), "bad_rows": dict(skipped)}
        counts["usable"] = len(rows)
        removed: dict[str, list[str]] = {}
        row_words = RowWords()  # each row split into words once for all filters
        if cfg.max_chars is not None:
            rows = [r for r in rows if row_chars(r) <= cfg.max_chars]
        counts["after_max_chars"] = len(rows)
        if cfg.dedup.exact:
            rows, removed["exact_duplicates"] = drop_exact_duplicates(rows, row_words)
        counts["after_exact_dedup"] = len(rows)
        if cfg.dedup.near_threshold is not None:
            rows, removed["near_duplicates"] = drop_near_duplicates(
                rows,
                cfg.dedup.near_threshold,
                cfg.dedup.n_hashes,
                cfg.dedup.bands,
                cfg.dedup.shingle,
                row_words,
            )
        counts["after_near_dedup"] = len(rows)
        decon: dict[str, Any] = {"checked": {}, "unchecked": [], "removed": 0}
        if cfg.decontaminate.enabled:
            index = NgramIndex(benchmark_prompts(cfg, decon), cfg.decontaminate.ngram)
            rows, removed["contaminated"] = decontaminate(
                rows, index, cfg.decontaminate.max_overlap, row_words
            )
            decon.update(
                removed=len(removed["contaminated"]),
                prompts_indexed=index.prompts,
                ngram=cfg.decontaminate.ngram,
                max_overlap=cfg.decontaminate.max_overlap,
                removed_ids=removed["contaminated"][:EXAMPLES],
            )
            if decon["unchecked"]:
                log.warning("curate: no data for %s: not decontaminated against them", decon["unchecked"])
        counts["after_decontamination"] = len(rows)
        pool, heldout = split_pool(
            rows, heldout_size=cfg.heldout_size, pool_size=cfg.pool_size, seed=cfg.seed
        )
        counts.update(pool=len(pool), heldout=len(heldout))
        write_jsonl(out / "pool.jsonl", (r.to_row() for r in pool))
        write_jsonl(out / "heldout.jsonl", (heldout_row(r) for r in heldout))
        manifest = {
            "inputs": {
                "path": str(p.path),
                "format": p.format,
                "sha256": sha256_file(p.path),
                "license": p.license,
            },
            "counts": counts,
            "removed_examples": {k: v[:EXAMPLES] for k, v in removed.items()},
            "decontamination": decon,
            "config_sha256": stable_hash("curate", plain),
            "seed": cfg.seed,
        }
        write_json(out / "manifest.json", manifest)
        tracker.summary({f"curate/{k}": v for k, v in counts.items() if isinstance(v, int)})
    log.info("curate: %s", counts)
    return manifest


main = stage_main("curate")(run)

if __name__ == "__main__":
    main()
