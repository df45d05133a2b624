"""Stage `curate`: read a pool, filter, deduplicate, decontaminate, and split off a held-out set.

Steps, each counted in manifest.json: read (bad rows error or are counted by reason), size filter,
exact duplicates, near duplicates (MinHash), contamination with the prompts of the registered
benchmarks (word n-gram overlap), then a seeded split by question into the SFT pool and a disjoint
held-out set (the hh_harmless_heldout benchmark).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from flexjudge.benchmarks.loading import benchmark_prompts
from flexjudge.core.app import stage_main, stage_run, to_plain
from flexjudge.core.io import sha256_file, stable_hash, write_json, write_jsonl
from flexjudge.data.curation import EXAMPLES, filter_pool, heldout_row, split_pool
from flexjudge.data.pools import read_pool

log = logging.getLogger(__name__)


def run(cfg: DictConfig) -> dict[str, Any]:
    """Write pool.jsonl, heldout.jsonl and manifest.json (counts after each step, hashes, removed ids)."""
    out = Path(cfg.out_dir)
    with stage_run(cfg, "curate", seed=True) as st:
        p = cfg.pool
        rows, skipped = read_pool(
            p.path,
            p.format,
            on_bad_row=p.on_bad_row,
            fields=to_plain(p.fields),
            seed=cfg.seed,
            media_dir=out / "media",
        )
        counts: dict[str, Any] = {"read": len(rows) + sum(skipped.values()), "bad_rows": dict(skipped)}
        counts["usable"] = len(rows)
        decon: dict[str, Any] = {"checked": {}, "unchecked": [], "removed": 0}
        d = cfg.decontaminate
        prompts = benchmark_prompts(d.benchmarks, cfg.paths, d.on_missing, decon) if d.enabled else None
        kept = filter_pool(rows, cfg, prompts, decon)
        counts.update(kept.counts)
        if decon["unchecked"]:
            log.warning("curate: no data for %s: not decontaminated against them", decon["unchecked"])
        pool, heldout = split_pool(
            kept.rows, heldout_size=cfg.heldout_size, pool_size=cfg.pool_size, seed=cfg.seed
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
            "removed_examples": {k: v[:EXAMPLES] for k, v in kept.removed.items()},
            "decontamination": decon,
            "config_sha256": stable_hash("curate", st.config),
            "seed": cfg.seed,
        }
        write_json(out / "manifest.json", manifest)
        st.tracker.summary({f"curate/{k}": v for k, v in counts.items() if isinstance(v, int)})
    log.info("curate: %s", counts)
    return manifest


main = stage_main("curate")(run)

if __name__ == "__main__":
    main()
