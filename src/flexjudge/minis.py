"""Stage `minis`: build one family of offline mini benchmarks (official formats, gold by construction)."""

from __future__ import annotations

import logging
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig

from flexjudge.core.app import stage_main, to_plain
from flexjudge.core.io import write_json

log = logging.getLogger(__name__)


def run(cfg: DictConfig) -> dict[str, Any]:
    """Write the family's files under out_dir and a record of how they were made to out_dir/made/<family>.json."""
    from flexjudge.benchmarks.synthetic import DATA_FAMILIES, FAMILIES

    builders = {**FAMILIES, **DATA_FAMILIES}
    if cfg.family not in builders:
        raise ValueError(f"family={cfg.family!r}: choose from {sorted(builders)} (conf/minis.yaml)")
    started = time.time()
    root = Path(cfg.out_dir)
    # one generator per family, so building one family never changes another's bytes
    rng = np.random.default_rng([cfg.seed, zlib.crc32(cfg.family.encode())])
    made = builders[cfg.family](root, cfg.n_items, rng, hh_rlhf=Path(cfg.hh_rlhf), skip=cfg.hh_skip)
    record = {
        "family": cfg.family,
        "seed": cfg.seed,
        "n_items": cfg.n_items,
        "builder": f"flexjudge.benchmarks.synthetic.{builders[cfg.family].__name__}",
        **made,
        "config": to_plain(cfg),
        "seconds": round(time.time() - started, 1),
    }
    write_json(root / "made" / f"{cfg.family}.json", record)
    log.info("minis: %s -> %s (%s)", cfg.family, root, made["items"])
    return record


main = stage_main("minis")(run)

if __name__ == "__main__":
    main()
