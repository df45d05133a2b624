"""Exact and near-duplicate removal within a pool, and decontamination against benchmark prompts.

Texts are compared as lower-cased alphanumeric words. Exact duplicates: the same question and the same
two answers (in either order). Near duplicates: MinHash signatures of word shingles, bucketed by LSH
bands; a row whose estimated Jaccard similarity to an earlier kept row reaches the threshold is
dropped. Contamination: the share of a pool question's word n-grams found among the benchmark prompts'
n-grams (a question shorter than n words must equal a benchmark prompt word for word).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np

from flexjudge.data.pools import PoolRow

_WORD = re.compile(r"[a-z0-9]+")
_MASK32 = np.uint64(0xFFFFFFFF)


def words(text: str) -> list[str]:
    """Lower-cased alphanumeric words."""
    return _WORD.findall(text.lower())


class RowWords:
    """The words of each pool row's question and answers, split once and shared by every filter."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[list[str], list[str], list[str]]] = {}

    def __call__(self, row: PoolRow) -> tuple[list[str], list[str], list[str]]:
        found = self._cache.get(row.id)
        if found is None:
            found = self._cache[row.id] = (words(row.question), words(row.answers[0]), words(row.answers[1]))
        return found


def exact_key(row: PoolRow, row_words: RowWords | None = None) -> tuple[str, ...]:
    """What two exact duplicates share: the normalized question, the normalized answers (unordered) and the
    question's media (an image-text row with the same words but another image is another example)."""
    q, a, b = (row_words or RowWords())(row)
    return (" ".join(q), *sorted((" ".join(a), " ".join(b))), *(m["path"] for m in row.media))


def drop_exact_duplicates(
    rows: Sequence[PoolRow], row_words: RowWords | None = None
) -> tuple[list[PoolRow], list[str]]:
    """(kept rows, ids of dropped repeats); the first occurrence is kept."""
    row_words = row_words or RowWords()
    seen: set[tuple[str, ...]] = set()
    kept, dropped = [], []
    for row in rows:
        key = exact_key(row, row_words)
        if key in seen:
            dropped.append(row.id)
        else:
            seen.add(key)
            kept.append(row)
    return kept, dropped


class MinHasher:
    """MinHash signatures of word shingles: words get ids in order of first appearance, a shingle
    combines its words' ids polynomially (mod 2**64), and `n_hashes` multiply-shift hashes of the
    shingle ids are minimized. Deterministic for a given sequence of texts."""

    def __init__(self, n_hashes: int = 64, shingle: int = 5, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.shingle = shingle
        self.a = rng.integers(1, 2**63, n_hashes, dtype=np.uint64) | np.uint64(1)  # odd multipliers
        self.b = rng.integers(0, 2**63, n_hashes, dtype=np.uint64)
        self.powers = [np.uint64(pow(1_000_003, k, 2**64)) for k in range(shingle)]
        self.vocab: defaultdict[str, int] = defaultdict()
        self.vocab.default_factory = lambda: len(self.vocab) + 1

    def signature(self, tokens: Sequence[str]) -> np.ndarray:
        """One text's signature (n_hashes values)."""
        return self.signatures([tokens])[0]

    def signatures(self, texts: Sequence[Sequence[str]], chunk: int = 512) -> np.ndarray:
        """Signatures of many texts (given as words), computed a chunk of texts at a time."""
        out = np.empty((len(texts), len(self.a)), dtype=np.uint64)
        for start in range(0, len(texts), chunk):
            out[start : start + chunk] = self._chunk(texts[start : start + chunk])
        return out

    def _chunk(self, texts: Sequence[Sequence[str]]) -> np.ndarray:
        n = self.shingle
        lengths = np.array([max(len(t), 1) for t in texts])
        flat = [w for t in texts for w in (t or ("",))]
        ids = np.fromiter(map(self.vocab.__getitem__, flat), dtype=np.uint64, count=len(flat))
        padded = np.concatenate([ids, np.zeros(n - 1, dtype=np.uint64)])
        shingles = padded[: len(ids)].copy()
        for k in range(1, n):  # uint64 arithmetic wraps: mod 2**64
            shingles += padded[k : k + len(ids)] * self.powers[k]
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        # a text's shingles start at its first len - n + 1 words (one shingle if it is shorter than n)
        counts = np.maximum(lengths - n + 1, 1)
        short = lengths < n
        if short.any():  # a short text's one shingle must not reach into the next text
            for i in np.flatnonzero(short):
                value = np.uint64(0)
                for k in range(int(lengths[i])):
                    value += ids[starts[i] + k] * self.powers[k]
                shingles[starts[i]] = value
        take = np.repeat(starts, counts) + (
            np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        )
        hashed = (self.a[:, None] * shingles[take][None, :] + self.b[:, None]) >> np.uint64(32) & _MASK32
        return np.minimum.reduceat(hashed, np.cumsum(counts) - counts, axis=1).T


def drop_near_duplicates(
    rows: Sequence[PoolRow],
    threshold: float = 0.8,
    n_hashes: int = 64,
    bands: int = 16,
    shingle: int = 5,
    row_words: RowWords | None = None,
) -> tuple[list[PoolRow], list[str]]:
    """(kept rows, ids of dropped near-duplicates) over question + answers: a row is dropped when its
    estimated Jaccard similarity to an earlier kept row sharing an LSH band reaches the threshold."""
    if n_hashes % bands:
        raise ValueError(f"n_hashes={n_hashes} must be a multiple of bands={bands}")
    if not rows:
        return [], []
    row_words = row_words or RowWords()
    width = n_hashes // bands
    sigs = MinHasher(n_hashes, shingle).signatures([[*q, *a, *b] for q, a, b in map(row_words, rows)])
    # one key per band: its hash values combined (mod 2**64); rows with an equal key are candidates
    mix = np.array([pow(0x9E3779B97F4A7C15, k, 2**64) for k in range(width)], dtype=np.uint64)
    band_keys = (sigs.reshape(len(rows), bands, width) * mix).sum(axis=2, dtype=np.uint64)
    pairs: set[tuple[int, int]] = set()
    for band in range(bands):
        order = np.argsort(band_keys[:, band], kind="stable")
        keys = band_keys[order, band]
        starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
        lengths = np.diff(np.append(starts, len(keys)))
        for start, length in zip(starts[lengths > 1].tolist(), lengths[lengths > 1].tolist(), strict=True):
            members = sorted(order[start : start + length].tolist())
            pairs.update((i, j) for x, i in enumerate(members) for j in members[x + 1 :])
    earlier = sorted(pairs, key=lambda p: (p[1], p[0]))
    if earlier:
        first, second = np.array(earlier).T
        similar = np.count_nonzero(sigs[first] == sigs[second], axis=1) >= threshold * n_hashes
        earlier = [p for p, ok in zip(earlier, similar.tolist(), strict=True) if ok]
    kept = np.ones(len(rows), dtype=bool)
    for i, j in earlier:  # in order of the later row, so every earlier row's fate is settled
        if kept[i]:
            kept[j] = False
    return [r for r, k in zip(rows, kept, strict=True) if k], [
        r.id for r, k in zip(rows, kept, strict=True) if not k
    ]


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

    def overlap(self, text: str | Sequence[str]) -> float:
        """Share of the text's n-grams that occur in the index (short texts: 1.0 on an exact match);
        `text` may be given as its words."""
        w = words(text) if isinstance(text, str) else text
        if len(w) < self.n:
            return 1.0 if " ".join(w) in self.short else 0.0
        grams = [hash(tuple(w[i : i + self.n])) for i in range(len(w) - self.n + 1)]
        return sum(g in self.grams for g in grams) / len(grams)


def decontaminate(
    rows: Sequence[PoolRow], index: NgramIndex, max_overlap: float, row_words: RowWords | None = None
) -> tuple[list[PoolRow], list[str]]:
    """(kept rows, ids of rows whose question overlaps the benchmark prompts by at least max_overlap)."""
    row_words = row_words or RowWords()
    kept, dropped = [], []
    for row in rows:
        if index.overlap(row_words(row)[0]) >= max_overlap:
            dropped.append(row.id)
        else:
            kept.append(row)
    return kept, dropped
