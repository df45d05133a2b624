"""Metrics with their metadata (higher is better, aggregation), registered once for every stage."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np


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
        MetricInfo(
            "accuracy_without_tie",
            "higher",
            "mean",
            "accuracy over the items whose gold verdict is not a tie (a predicted tie there is wrong)",
        ),
        MetricInfo(
            "consistency_rate",
            "higher",
            "mean",
            "share of items judged in both answer orders whose two verdicts agree after mapping back",
        ),
        MetricInfo("pearson", "higher", "mean", "Pearson correlation (LCC) of predicted and gold scores"),
        MetricInfo(
            "spearman", "higher", "mean", "Spearman rank correlation (SRCC) of predicted and gold scores"
        ),
        MetricInfo("kendall", "higher", "mean", "Kendall's tau-b of predicted and gold scores"),
        MetricInfo("sys_lcc", "higher", "mean", "Pearson correlation of per-system mean scores"),
        MetricInfo("sys_srcc", "higher", "mean", "Spearman correlation of per-system mean scores"),
        MetricInfo(
            "normalized_levenshtein",
            "lower",
            "mean",
            "edit distance between predicted and gold rankings over the longer length; unparsed items count 1",
        ),
        MetricInfo(
            "exact_ranking_rate", "higher", "mean", "share of items whose predicted ranking equals gold"
        ),
        MetricInfo(
            "tied_ranking_rate",
            "lower",
            "mean",
            "share of parsed batch votes that gave two replies the same score (ordered by position)",
        ),
        MetricInfo("n_unscored", "lower", "sum", "items without a parsed score (left out of correlations)"),
    )
}


def accuracy(predicted: Sequence[str | None], gold: Sequence[str]) -> float:
    """Exact-match accuracy; a None prediction is wrong."""
    if len(predicted) != len(gold):
        raise ValueError(f"{len(predicted)} predictions for {len(gold)} gold labels")
    if not gold:
        return float("nan")
    return sum(p is not None and p == g for p, g in zip(predicted, gold, strict=True)) / len(gold)


def accuracy_with_tie(predicted: Sequence[str | None], gold: Sequence[str]) -> float:
    """Exact-match accuracy over all items, tie labels included (same as `accuracy`)."""
    return accuracy(predicted, gold)


def accuracy_without_tie(predicted: Sequence[str | None], gold: Sequence[str], tie: str = "tie") -> float:
    """Accuracy over the rows whose gold label is not a tie (tie_good/tie_bad count as ties too)."""
    kept = [(p, g) for p, g in zip(predicted, gold, strict=True) if not str(g).startswith(tie)]
    return accuracy([p for p, _ in kept], [g for _, g in kept])


def _pair_arrays(x: Sequence[float], y: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    if len(x) != len(y):
        raise ValueError(f"{len(x)} predictions for {len(y)} gold values")
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def pearson(x: Sequence[float], y: Sequence[float]) -> float:
    """Pearson's r; nan for fewer than two points or a constant side."""
    a, b = _pair_arrays(x, y)
    if len(a) < 2:
        return float("nan")
    a, b = a - a.mean(), b - b.mean()
    denom = math.sqrt(float((a * a).sum()) * float((b * b).sum()))
    return float((a * b).sum()) / denom if denom > 0 else float("nan")


def average_ranks(x: Sequence[float]) -> np.ndarray:
    """Ranks 1..n with tied values sharing their average rank."""
    a = np.asarray(x, dtype=float)
    order = np.argsort(a, kind="mergesort")
    ranks = np.empty(len(a))
    i = 0
    while i < len(a):
        j = i
        while j + 1 < len(a) and a[order[j + 1]] == a[order[i]]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rho: Pearson's r of the average ranks."""
    a, b = _pair_arrays(x, y)
    return pearson(average_ranks(a), average_ranks(b))


def kendall(x: Sequence[float], y: Sequence[float]) -> float:
    """Kendall's tau-b (tie-corrected), by counting concordant and discordant pairs."""
    a, b = _pair_arrays(x, y)
    if len(a) < 2:
        return float("nan")
    da = np.sign(a[:, None] - a[None, :])
    db = np.sign(b[:, None] - b[None, :])
    upper = np.triu_indices(len(a), k=1)
    sa, sb = da[upper], db[upper]
    numerator = float((sa * sb).sum())
    denom = math.sqrt(float((sa != 0).sum()) * float((sb != 0).sum()))
    return numerator / denom if denom > 0 else float("nan")


def normalized_levenshtein(a: Sequence, b: Sequence) -> float:
    """Edit distance (insert, delete, substitute: 1 each) over the longer length; 0 for two empty ones."""
    if not a and not b:
        return 0.0
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1] / max(len(a), len(b))


def system_level(
    pred: Sequence[float], gold: Sequence[float], systems: Sequence[str]
) -> tuple[list[float], list[float]]:
    """Mean prediction and mean gold per system (systems in sorted order)."""
    groups: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for p, g, s in zip(pred, gold, systems, strict=True):
        groups[s].append((p, g))
    names = sorted(groups)
    return (
        [float(np.mean([p for p, _ in groups[s]])) for s in names],
        [float(np.mean([g for _, g in groups[s]])) for s in names],
    )


def utterance_and_system_correlations(
    pred: Sequence[float | None], gold: Sequence[float], systems: Sequence[str] | None = None
) -> dict[str, float | int]:
    """LCC, SRCC and Kendall per item and, given system ids, LCC and SRCC of per-system means.

    Items without a parsed prediction (None) are left out and counted as `n_unscored`.
    """
    keep = [i for i, p in enumerate(pred) if p is not None]
    p = [float(pred[i]) for i in keep]
    g = [float(gold[i]) for i in keep]
    out: dict[str, float | int] = {
        "lcc": pearson(p, g),
        "srcc": spearman(p, g),
        "ktau": kendall(p, g),
        "n_unscored": len(pred) - len(keep),
    }
    if systems is not None:
        sp, sg = system_level(p, g, [systems[i] for i in keep])
        out["sys_lcc"], out["sys_srcc"] = pearson(sp, sg), spearman(sp, sg)
    return out


def macro_average(values_by_subset: Mapping[str, float]) -> float:
    """Unweighted mean over subsets; nan if any subset is nan (a missing subset must not vanish)."""
    values = list(values_by_subset.values())
    return float(np.mean(values)) if values else float("nan")


def bootstrap_ci(
    metric: Callable[..., float], *columns: Sequence, n_boot: int = 1000, alpha: float = 0.05, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of `metric(*columns)`, resampling rows; deterministic per seed."""
    n = len(columns[0])
    rng = np.random.default_rng(seed)
    stats = []
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        stats.append(metric(*[[col[i] for i in idx] for col in columns]))
    lo, hi = np.nanquantile(np.asarray(stats, dtype=float), [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)
