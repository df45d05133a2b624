"""Aggregate k sampled judgements of one item."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence


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
