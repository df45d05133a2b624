"""Aggregate the k sampled judgements of one item. Unparsed votes (None) never vote."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence

from flexjudge.protocol.prompts import answer_letters


def majority_verdict(votes: Sequence[str | None]) -> str | None:
    """Most frequent parsed verdict; unparsed votes (None) do not vote.

    Tie-break: among verdicts with the top count, the one sampled first wins (samples are i.i.d.,
    and the A/B order is randomised per item, so this favours no label). None if nothing parsed.
    """
    parsed = [v for v in votes if v is not None]
    if not parsed:
        return None
    counts = Counter(parsed)
    top = max(counts.values())
    return next(v for v in parsed if counts[v] == top)


def summed_pair_votes(votes: Sequence[str | None]) -> str | None:
    """MLLM-as-a-Judge's rule: A counts −1, B +1, tie 0; the sign of the sum is the verdict (0 → tie)."""
    weights = {"A": -1, "B": 1, "tie": 0}
    parsed = [v for v in votes if v is not None]
    if not parsed:
        return None
    total = sum(weights[v] for v in parsed)
    return "A" if total < 0 else "B" if total > 0 else "tie"


def mean_score(votes: Sequence[float | None]) -> float | None:
    """Mean of the parsed scores."""
    parsed = [v for v in votes if v is not None]
    return statistics.fmean(parsed) if parsed else None


def median_score(votes: Sequence[float | None]) -> float | None:
    """Median of the parsed scores (mean of the middle two for an even count)."""
    parsed = [v for v in votes if v is not None]
    return statistics.median(parsed) if parsed else None


def mean_scores(votes: Sequence[tuple[float, ...] | None]) -> tuple[float, ...] | None:
    """Per-answer mean over the parsed score tuples of several votes."""
    parsed = [v for v in votes if v is not None]
    if not parsed:
        return None
    return tuple(statistics.fmean(column) for column in zip(*parsed, strict=True))


def ranking_from_scores(scores: Sequence[float]) -> str:
    """Answer letters from best to worst score. Equal scores keep presentation order (A before B).

    The rule is deterministic; how often it is needed is reported by the batch format's metrics
    (`tied_ranking_rate`), since it slightly favours earlier positions.
    """
    letters = answer_letters(len(scores))
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    return "".join(letters[i] for i in order)


def borda_ranking(rankings: Sequence[str | None]) -> str | None:
    """Borda count over several rankings (n−1 points for first place … 0 for last); ties as above."""
    parsed = [r for r in rankings if r is not None]
    if not parsed:
        return None
    letters = sorted(parsed[0])
    points = {letter: 0 for letter in letters}
    for ranking in parsed:
        for place, letter in enumerate(ranking):
            points[letter] += len(ranking) - 1 - place
    return ranking_from_scores([points[letter] for letter in letters])
