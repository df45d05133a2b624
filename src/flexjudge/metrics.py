"""Metrics with their metadata (higher is better, aggregation), registered once for every stage."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class MetricInfo:
    """What a metric means and how the leaderboard treats it."""

    ARROWS = {"higher": " ↑", "lower": " ↓", "neither": ""}

    name: str
    better: str  # higher | lower | neither (diagnostics such as counts or a rate whose ideal is in between)
    aggregation: str  # how per-subset values combine: mean | sum | none
    description: str

    @property
    def label(self) -> str:
        """Column header: the name with ↑/↓ when a direction is better."""
        return self.name + self.ARROWS[self.better]


METRICS: dict[str, MetricInfo] = {
    m.name: m
    for m in (
        MetricInfo(
            "accuracy",
            "higher",
            "mean",
            "share of items whose voted verdict equals the gold verdict; "
            "items with no parsable vote count as wrong",
        ),
        MetricInfo(
            "accuracy_parsed",
            "higher",
            "mean",
            "accuracy over the items whose votes parsed (judgement quality apart from format compliance)",
        ),
        MetricInfo(
            "parse_failure_rate", "lower", "mean", "share of sampled outputs with no parsable verdict"
        ),
        MetricInfo("unparsed_item_rate", "lower", "mean", "share of items where no vote parsed"),
        MetricInfo("tie_rate", "neither", "mean", "share of items whose voted verdict is a tie"),
        MetricInfo(
            "first_position_rate",
            "neither",
            "mean",
            "share of parsed non-tie votes choosing reply A (0.5 = no position preference)",
        ),
        MetricInfo("n_items", "neither", "sum", "items evaluated"),
    )
}


def accuracy(predicted: Sequence[str | None], gold: Sequence[str]) -> float:
    """Exact-match accuracy; a None prediction is wrong."""
    if len(predicted) != len(gold):
        raise ValueError(f"{len(predicted)} predictions for {len(gold)} gold labels")
    if not gold:
        return float("nan")
    return sum(p is not None and p == g for p, g in zip(predicted, gold, strict=True)) / len(gold)


def pairwise_summary(
    votes: Sequence[Sequence[str | None]],
    voted: Sequence[str | None],
    gold: Sequence[str],
    failures: Sequence[str],
) -> dict[str, float | int | dict[str, int]]:
    """Pairwise-verdict metrics from per-item votes, voted verdicts, gold labels and failure reasons."""
    flat = [v for item in votes for v in item]
    parsed = [v for v in flat if v is not None]
    decisive = [v for v in parsed if v != "tie"]
    n = len(gold)
    answered = [(v, g) for v, g in zip(voted, gold, strict=True) if v is not None]
    return {
        "accuracy": accuracy(voted, gold),
        "accuracy_parsed": accuracy([v for v, _ in answered], [g for _, g in answered]),
        "parse_failure_rate": (len(flat) - len(parsed)) / len(flat) if flat else float("nan"),
        "unparsed_item_rate": sum(v is None for v in voted) / n if n else float("nan"),
        "tie_rate": sum(v == "tie" for v in voted) / n if n else float("nan"),
        "first_position_rate": sum(v == "A" for v in decisive) / len(decisive) if decisive else float("nan"),
        "n_items": n,
        "n_votes": len(flat),
        "parse_failures": dict(Counter(failures)),
    }
