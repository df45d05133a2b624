"""From a read pool to the SFT pool and the held-out set: a size filter, exact and near duplicates, contamination
with benchmark prompts, then a seeded split by question (the curate stage writes what this returns)."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from flexjudge.data.dedup import (
    NgramIndex,
    RowWords,
    decontaminate,
    drop_exact_duplicates,
    drop_near_duplicates,
)
from flexjudge.data.pools import PoolRow

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


@dataclass
class Filtered:
    """The rows left after every filter, the count after each, the removed ids by filter, and what the
    decontamination checked."""

    rows: list[PoolRow]
    counts: dict[str, Any] = field(default_factory=dict)
    removed: dict[str, list[str]] = field(default_factory=dict)
    decontamination: dict[str, Any] = field(default_factory=dict)


def filter_pool(rows: list[PoolRow], cfg, prompts: Iterable[str] | None, decon: dict[str, Any]) -> Filtered:
    """Apply the curate filters in order (cfg: max_chars, dedup, decontaminate); `prompts` are the benchmark
    questions to decontaminate against (None when decontamination is off), `decon` the report they fill."""
    out = Filtered(rows, decontamination=decon)
    row_words = RowWords()  # each row split into words once for all filters
    if cfg.max_chars is not None:
        out.rows = [r for r in out.rows if row_chars(r) <= cfg.max_chars]
    out.counts["after_max_chars"] = len(out.rows)
    if cfg.dedup.exact:
        out.rows, out.removed["exact_duplicates"] = drop_exact_duplicates(out.rows, row_words)
    out.counts["after_exact_dedup"] = len(out.rows)
    if cfg.dedup.near_threshold is not None:
        d = cfg.dedup
        out.rows, out.removed["near_duplicates"] = drop_near_duplicates(
            out.rows, d.near_threshold, d.n_hashes, d.bands, d.shingle, row_words
        )
    out.counts["after_near_dedup"] = len(out.rows)
    if prompts is not None:
        d = cfg.decontaminate
        index = NgramIndex(prompts, d.ngram)
        out.rows, out.removed["contaminated"] = decontaminate(out.rows, index, d.max_overlap, row_words)
        decon.update(
            removed=len(out.removed["contaminated"]),
            prompts_indexed=index.prompts,
            ngram=d.ngram,
            max_overlap=d.max_overlap,
            removed_ids=out.removed["contaminated"][:EXAMPLES],
        )
    out.counts["after_decontamination"] = len(out.rows)
    return out
