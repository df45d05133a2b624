"""Exact and near-duplicate removal within a pool, and decontamination against benchmark prompts.

Texts are compared as lower-cased alphanumeric words. Exact duplicates: the same question and the same
two answers (in either order). Near duplicates: MinHash signatures of word shingles, bucketed by LSH
bands; a row whose estimated Jaccard similarity to an earlier kept row reaches the threshold is
dropped. Contamination: the share of a pool question's word n-grams found among the benchmark prompts'
n-grams (a question shorter than n words must equal a benchmark prompt word for word).
"""

from __future__ import annotations

import re
import zlib
from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np

from flexjudge.data.pools import PoolRow

_WORD = re.compile(r"[a-z0-9]+")
_MASK32 = np.uint64(0xFFFFFFFF)


def words(text: str) -> list[str]:
    """Lower-cased alphanumeric words."""
    return _WORD.findall(text.lower())


def exact_key(row: PoolRow) -> tuple[str, ...]:
    """What two exact duplicates share: the normalized question and the normalized answers, unordered."""
    a, b = (" ".join(words(x)) for x in row.answers)
    return (" ".join(words(row.question)), *sorted((a, b)))


def drop_exact_duplicates(rows: Sequence[PoolRow]) -> tuple[list[PoolRow], list[str]]:
    """(kept rows, ids of dropped repeats); the first occurrence is kept."""
    seen: set[tuple[str, ...]] = set()
    kept, dropped = [], []
    for row in rows:
        key = exact_key(row)
        if key in seen:
            dropped.append(row.id)
        else:
            seen.add(key)
            kept.append(row)
    return kept, dropped


class MinHasher:
    """MinHash signatures of word shingles: `n_hashes` multiply-shift hashes of CRC32 shingle ids."""

    def __init__(self, n_hashes: int = 64, shingle: int = 5, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.shingle = shingle
        self.a = rng.integers(1, 2**63, n_hashes, dtype=np.uint64) | np.uint64(1)  # odd multipliers
        self.b = rng.integers(0, 2**63, n_hashes, dtype=np.uint64)

    def signature(self, text: str) -> np.ndarray:
        w = words(text)
        n = self.shingle
        grams = [" ".join(w[i : i + n]) for i in range(max(1, len(w) - n + 1))] if w else [""]
        ids = np.fromiter((zlib.crc32(g.encode()) for g in grams), dtype=np.uint64, count=len(grams))
        hashed = (self.a[:, None] * ids[None, :] + self.b[:, None]) >> np.uint64(32) & _MASK32
        return hashed.min(axis=1)


def drop_near_duplicates(
    rows: Sequence[PoolRow], threshold: float = 0.8, n_hashes: int = 64, bands: int = 16, shingle: int = 5
) -> tuple[list[PoolRow], list[str]]:
    """(kept rows, ids of dropped near-duplicates) over question + answers; earlier rows win."""
    if n_hashes % bands:
        raise ValueError(f"n_hashes={n_hashes} must be a multiple of bands={bands}")
    hasher = MinHasher(n_hashes, shingle)
    width = n_hashes // bands
    buckets: dict[tuple[int, bytes], list[int]] = defaultdict(list)
    kept_sigs: list[np.ndarray] = []
    kept, dropped = [], []
    for row in rows:
        sig = hasher.signature("\n".join((row.question, *row.answers)))
        keys = [(band, sig[band * width : (band + 1) * width].tobytes()) for band in range(bands)]
        candidates = {j for key in keys for j in buckets.get(key, ())}
        if any(np.mean(kept_sigs[j] == sig) >= threshold for j in candidates):
            dropped.append(row.id)
            continue
        for key in keys:
            buckets[key].append(len(kept))
        kept_sigs.append(sig)
        kept.append(row)
    return kept, dropped


class NgramIndex:
    """Word n-grams of a set of benchmark prompts, for overlap look-ups."""

    def __init__(self, prompts: Iterable[str], n: int = 8):
        self.n = n
        self.grams: set[int] = set()
        self.short: set[str] = set()
        self.prompts = 0
        for text in prompts:
            w = words(text)
            self.prompts += 1
            self.short.add(" ".join(w))
            self.grams.update(hash(tuple(w[i : i + n])) for i in range(len(w) - n + 1))

    def overlap(self, text: str) -> float:
        """Share of the text's n-grams that occur in the index (short texts: 1.0 on an exact match)."""
        w = words(text)
        if len(w) < self.n:
            return 1.0 if " ".join(w) in self.short else 0.0
        grams = [hash(tuple(w[i : i + self.n])) for i in range(len(w) - self.n + 1)]
        return sum(g in self.grams for g in grams) / len(grams)


def decontaminate(
    rows: Sequence[PoolRow], index: NgramIndex, max_overlap: float
) -> tuple[list[PoolRow], list[str]]:
    """(kept rows, ids of rows whose question overlaps the benchmark prompts by at least max_overlap)."""
    kept, dropped = [], []
    for row in rows:
        if index.overlap(row.question) >= max_overlap:
            dropped.append(row.id)
        else:
            kept.append(row)
    return kept, dropped
