"""Stage `curate`: read the text preference pool and split it into an SFT pool and a disjoint held-out set.

The split is by conversation: every pair whose context text is the same lands on the same side.
"""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from flexjudge.app import seed_everything, stage_main, to_plain
from flexjudge.data.hh_rlhf import read_hh_rlhf
from flexjudge.data.schemas import PairItem
from flexjudge.io import sha256_file, write_json, write_jsonl
from flexjudge.tracking import start_tracking

log = logging.getLogger(__name__)


def item_chars(item: PairItem) -> int:
    """Size of a pair as the judge sees it (context + both replies)."""
    return len(item.question) + len(item.chosen) + len(item.rejected)


def split_pool(
    items: list[PairItem], *, heldout_size: int, pool_size: int | None, seed: int
) -> tuple[list[PairItem], list[PairItem]]:
    """Seeded split into (pool, held-out), grouping pairs that share a context so the sides stay disjoint."""
    groups: dict[str, list[PairItem]] = defaultdict(list)
    for item in items:
        groups[item.question].append(item)
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    heldout: list[PairItem] = []
    pool: list[PairItem] = []
    for key in keys:
        target = heldout if len(heldout) < heldout_size else pool
        target.extend(groups[key])
    if len(heldout) < heldout_size:
        raise ValueError(
            f"only {len(items)} usable pairs; cannot hold out {heldout_size} (lower curate.heldout_size)"
        )
    if pool_size is not None:
        if len(pool) < pool_size:
            raise ValueError(
                f"only {len(pool)} pairs left for the pool; curate.pool_size={pool_size} is too large"
            )
        pool = pool[:pool_size]
    return pool, heldout


def run(cfg: DictConfig) -> dict[str, Any]:
    """Read cfg.source, filter by size, split, and write pool.jsonl, heldout.jsonl and manifest.json."""
    seed_everything(cfg.seed)
    out = Path(cfg.out_dir)
    with start_tracking(cfg.logger, stage="curate", name="curate", config=to_plain(cfg)) as tracker:
        items, skipped = read_hh_rlhf(cfg.source, on_bad_row=cfg.on_bad_row)
        n_read = len(items)
        if cfg.max_chars is not None:
            items = [it for it in items if item_chars(it) <= cfg.max_chars]
        pool, heldout = split_pool(
            items, heldout_size=cfg.heldout_size, pool_size=cfg.pool_size, seed=cfg.seed
        )
        write_jsonl(out / "pool.jsonl", (it.to_row() for it in pool))
        write_jsonl(out / "heldout.jsonl", (it.to_row() for it in heldout))
        manifest = {
            "source": str(cfg.source),
            "source_sha256": sha256_file(cfg.source),
            "license": cfg.license,
            "rows_usable": n_read,
            "rows_skipped": dict(skipped),
            "rows_over_max_chars": n_read - len(items),
            "pool": len(pool),
            "heldout": len(heldout),
            "seed": cfg.seed,
        }
        write_json(out / "manifest.json", manifest)
        tracker.summary({k: v for k, v in manifest.items() if isinstance(v, int)})
    log.info("curate: %s", manifest)
    return manifest


main = stage_main("curate")(run)

if __name__ == "__main__":
    main()
