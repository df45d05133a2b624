"""How stable an evaluation's votes are, from its scored rows (predictions.jsonl): the accuracy of a single
vote against the accuracy after voting, how far an item's votes agree, which items change verdict when the
answer order is reversed, and how often the first shown answer wins.

The consensus accuracy (`accuracy`), the order consistency (`consistency_rate`) and the first-position
rate of the verdict formats (`first_position_rate`) are in metrics.json already and are read from there;
what is computed here is what metrics.json does not hold."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from flexjudge.judge.metrics import MetricInfo

STABILITY = {
    m.name: m
    for m in (
        MetricInfo(
            "vote_accuracy",
            "higher",
            "mean",
            "expected accuracy of one vote: per item the share of its votes (all orders) equal to the gold "
            "verdict, averaged over items; an unparsed vote is wrong",
        ),
        MetricInfo(
            "vote_agreement",
            "higher",
            "mean",
            "per item the share of its votes that agree with its most common parsed vote (an unparsed vote "
            "disagrees), averaged over the items with a parsed vote; 1.0 at k = 1 in one order",
        ),
        MetricInfo(
            "flip_rate",
            "lower",
            "mean",
            "share of the items judged in both answer orders whose verdicts differ between the orders "
            "(or do not parse in one): 1 − consistency_rate",
        ),
        MetricInfo(
            "first_shown_rate",
            "neither",
            "mean",
            "share of parsed votes with a winner whose winner is the first answer shown (A); 0.5 for two "
            "answers is no position preference (first_position_rate for the pair formats)",
        ),
    )
}


def verdict(value: Any) -> Any:
    """A vote's or an item's verdict as one comparable value: a batch vote's ranking, else the value."""
    return value["ranking"] if isinstance(value, dict) else value


def consistent(per_view: Sequence[Any]) -> bool:
    """Whether an item's verdicts in its answer orders are one and the same parsed verdict."""
    return len({verdict(v) for v in per_view}) == 1 and per_view[0] is not None


def flips(row: dict[str, Any]) -> bool | None:
    """Whether an item's verdict changes with the answer order (None: judged in one order only)."""
    views = row.get("per_view") or []
    return None if len(views) < 2 else not consistent(views)


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _number(value: Any) -> float | None:
    """A metric read from metrics.json, None when absent or nan."""
    return None if value is None or value != value else float(value)


def vote_accuracy(rows: Sequence[dict[str, Any]]) -> float | None:
    """Expected accuracy of a single vote (STABILITY); None for scored formats, whose gold is a number."""
    if not rows or not all(isinstance(r["gold"], str) for r in rows):
        return None
    return _mean(
        [
            sum(verdict(v["value"]) == r["gold"] for v in r["votes"]) / len(r["votes"])
            for r in rows
            if r["votes"]
        ]
    )


def item_agreement(row: dict[str, Any]) -> float | None:
    """The share of an item's votes equal to its most common parsed vote (None: no vote parsed)."""
    values = [verdict(v["value"]) for v in row["votes"]]
    parsed = Counter(v for v in values if v is not None)
    if not parsed:
        return None
    return parsed.most_common(1)[0][1] / len(values)


def vote_agreement(rows: Sequence[dict[str, Any]]) -> float | None:
    """Mean `item_agreement` over the items with a parsed vote (STABILITY)."""
    return _mean([a for a in map(item_agreement, rows) if a is not None])


def flip_rate(rows: Sequence[dict[str, Any]]) -> float | None:
    """Share of the items judged in both orders whose verdict flips (None: no item in two orders)."""
    flagged = [f for f in map(flips, rows) if f is not None]
    return _mean([float(f) for f in flagged])


def first_shown_rate(rows: Sequence[dict[str, Any]]) -> float | None:
    """Share of parsed votes with one winner that chose the first shown answer: a pair vote not a tie,
    or a batch vote whose top score is unique (a tied top is ordered by position, so it says nothing)."""
    winners = []
    for vote in (v for r in rows for v in r["votes"]):
        shown = vote["shown"]
        if isinstance(shown, dict):
            top = max(shown["scores"])
            if shown["scores"].count(top) == 1:
                winners.append(shown["ranking"][0])
        elif isinstance(shown, str) and not shown.startswith("tie"):
            winners.append(shown[0])
    return _mean([w == "A" for w in winners])


def stability(rows: Sequence[dict[str, Any]], metrics: dict[str, Any]) -> dict[str, float | None]:
    """An evaluation's stability figures: the consensus accuracy and order flips read from its metrics
    (metrics.json), the rest computed from its rows."""
    consistency = _number(metrics.get("consistency_rate"))
    first = _number(metrics.get("first_position_rate"))
    return {
        "accuracy": _number(metrics.get("accuracy")),
        "vote_accuracy": vote_accuracy(rows),
        "vote_agreement": vote_agreement(rows),
        "flip_rate": flip_rate(rows) if consistency is None else 1 - consistency,
        "first_shown_rate": first if first is not None else first_shown_rate(rows),
    }
