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
        MetricInfo(
            "accuracy_decisive",
            "higher",
            "mean",
            "accuracy over the items the judge did not call a tie (MJ-Bench's 'without ties')",
        ),
        MetricInfo(
            "best_of_n_accuracy",
            "higher",
            "mean",
            "share of prompts whose highest-scored response is right (ties broken at random, in "
            "expectation; a response whose score did not parse is never preferred to a scored one)",
        ),
        MetricInfo(
            "pairwise_auc",
            "higher",
            "mean",
            "share of (right, wrong) response pairs of one prompt where the right one scores higher "
            "(a tie counts 1/2; an unparsed score loses to a parsed one)",
        ),
        MetricInfo(
            "policy_accuracy",
            "neither",
            "mean",
            "share of right responses per prompt, averaged: picking one at random (the policy alone)",
        ),
        MetricInfo(
            "oracle_accuracy",
            "neither",
            "mean",
            "share of prompts with at least one right response: the best any selection can do",
        ),
        MetricInfo(
            "macro_f1",
            "higher",
            "mean",
            "F1 per gold class (A, B, tie), averaged over classes; unparsed items count as wrong",
        ),
    )
}
#: Headline metrics also reported per run (k > 1): mean and median over runs.
RUN_OF = (
    "accuracy",
    "pearson",
    "normalized_levenshtein",
    "macro_accuracy",
    "macro_pearson",
    "macro_normalized_levenshtein",
)
#: Metrics also reported averaged over a benchmark's subsets (each subset counts once).
MACRO_OF = ("accuracy", "accuracy_without_tie", "pearson", "normalized_levenshtein")
METRICS.update(
    {
        f"macro_{m}": MetricInfo(
            f"macro_{m}", METRICS[m].better, "mean", f"{m} averaged over the benchmark's subsets (macro)"
        )
        for m in MACRO_OF
    }
)


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


def accuracy_decisive(predicted: Sequence[str | None], gold: Sequence[str]) -> float:
    """Accuracy over items whose prediction is not a tie (unparsed items stay in, as wrong)."""
    kept = [(p, g) for p, g in zip(predicted, gold, strict=True) if p is None or not p.startswith("tie")]
    return accuracy([p for p, _ in kept], [g for _, g in kept])


def f1_macro(predicted: Sequence[str | None], gold: Sequence[str]) -> float:
    """Macro F1 over the gold classes (a class never predicted has F1 0; None is never right)."""
    if not gold:
        return float("nan")
    scores = []
    for label in sorted(set(gold)):
        tp = sum(p == label and g == label for p, g in zip(predicted, gold, strict=True))
        predicted_n = sum(p == label for p in predicted)
        gold_n = sum(g == label for g in gold)
        precision = tp / predicted_n if predicted_n else 0.0
        recall = tp / gold_n
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return float(np.mean(scores))


def _pair_arrays(x: Sequence[float], y: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    if len(x) != len(y):
        raise ValueError(f"{len(x)} predictions for {len(y)} gold values")
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def _constant(a: np.ndarray) -> bool:
    # Checked directly: the mean of identical floats need not equal them, which would leave tiny deviations.
    return bool(np.all(a == a[0]))


def pearson(x: Sequence[float], y: Sequence[float]) -> float:
    """Pearson's r; nan for fewer than two points or a constant side."""
    a, b = _pair_arrays(x, y)
    if len(a) < 2 or _constant(a) or _constant(b):
        return float("nan")
    a, b = a - a.mean(), b - b.mean()
    denom = math.sqrt(float((a * a).sum()) * float((b * b).sum()))
    return max(-1.0, min(1.0, float((a * b).sum()) / denom)) if denom > 0 else float("nan")


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
    """Spearman's rho: Pearson's r of the average ranks; nan if any value is nan."""
    a, b = _pair_arrays(x, y)
    if np.isnan(a).any() or np.isnan(b).any():
        return float("nan")
    return pearson(average_ranks(a), average_ranks(b))


def kendall(x: Sequence[float], y: Sequence[float]) -> float:
    """Kendall's tau-b (tie-corrected), by counting concordant and discordant pairs."""
    a, b = _pair_arrays(x, y)
    n = len(a)
    if n < 2:
        return float("nan")
    if np.isnan(a).any() or np.isnan(b).any():
        return float("nan")
    # tau_b = (concordant - discordant) / sqrt((pairs untied in x) * (pairs untied in y)). Summing over
    # all ordered pairs counts each pair twice on every side, which cancels; blocks of rows keep memory
    # at about 2**20 entries whatever n is.
    numerator = untied_a = untied_b = 0
    step = max(1, 2**20 // n)
    for start in range(0, n, step):
        sa = np.sign(a[start : start + step, None] - a[None, :])
        sb = np.sign(b[start : start + step, None] - b[None, :])
        numerator += int((sa * sb).sum())
        untied_a += int(np.count_nonzero(sa))
        untied_b += int(np.count_nonzero(sb))
    denom = math.sqrt(untied_a * untied_b)
    return max(-1.0, min(1.0, numerator / denom)) if denom > 0 else float("nan")


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
    if len(pred) != len(gold) or (systems is not None and len(systems) != len(pred)):
        raise ValueError(
            f"{len(pred)} predictions, {len(gold)} gold values"
            + ("" if systems is None else f", {len(systems)} system ids")
        )
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


def best_of_n(pred: Sequence[float | None], right: Sequence[bool], groups: Sequence[str]) -> dict[str, float]:
    """Selecting one response per group (prompt) by its judge score: best-of-N, pairwise AUC, and
    the random-pick and oracle accuracies to read them against. Unparsed scores (None) rank below
    every parsed one; ties are broken uniformly at random, computed exactly in expectation."""
    if not len(pred) == len(right) == len(groups):
        raise ValueError(f"{len(pred)} scores, {len(right)} labels, {len(groups)} group ids")
    members: dict[str, list[int]] = defaultdict(list)
    for i, g in enumerate(groups):
        members[g].append(i)
    key = [-math.inf if p is None else float(p) for p in pred]
    selected, random_pick, oracle = [], [], []
    wins = pairs = 0.0
    for idx in members.values():
        top = max(key[i] for i in idx)
        best = [i for i in idx if key[i] == top]
        selected.append(sum(right[i] for i in best) / len(best))
        random_pick.append(sum(right[i] for i in idx) / len(idx))
        oracle.append(float(any(right[i] for i in idx)))
        for i in idx:
            for j in idx:
                if right[i] and not right[j]:
                    pairs += 1
                    wins += 1.0 if key[i] > key[j] else 0.5 if key[i] == key[j] else 0.0
    nan = float("nan")
    return {
        "best_of_n_accuracy": float(np.mean(selected)) if selected else nan,
        "pairwise_auc": wins / pairs if pairs else nan,
        "policy_accuracy": float(np.mean(random_pick)) if random_pick else nan,
        "oracle_accuracy": float(np.mean(oracle)) if oracle else nan,
    }


def macro_average(values_by_subset: Mapping[str, float]) -> float:
    """Unweighted mean over subsets; nan if any subset is nan (a missing subset must not vanish)."""
    values = [float(v) for v in values_by_subset.values()]
    if not values or any(math.isnan(v) for v in values):
        return float("nan")
    return float(np.mean(values))


def bootstrap_ci(
    metric: Callable[..., float], *columns: Sequence, n_boot: int = 1000, alpha: float = 0.05, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of `metric(*columns)`, resampling rows; deterministic per seed.

    Resamples where the metric is nan (e.g. a constant side for a correlation) are left out; if all are,
    the interval is (nan, nan).
    """
    if not columns:
        raise ValueError("bootstrap_ci needs at least one column")
    lengths = {len(col) for col in columns}
    if len(lengths) != 1:
        raise ValueError(f"columns differ in length: {sorted(lengths)}")
    n = lengths.pop()
    if n == 0:
        raise ValueError("bootstrap_ci needs at least one row")
    if n_boot < 1 or not 0 < alpha < 1:
        raise ValueError(f"need n_boot >= 1 and 0 < alpha < 1, got n_boot={n_boot}, alpha={alpha}")
    rng = np.random.default_rng(seed)
    stats = np.empty(n_boot)
    for k in range(n_boot):
        idx = rng.integers(0, n, n)
        stats[k] = metric(*[[col[i] for i in idx] for col in columns])
    stats = stats[~np.isnan(stats)]
    if not len(stats):
        return float("nan"), float("nan")
    lo, hi = np.quantile(stats, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


METRICS.update(
    {
        f"run_{how}_{m}": MetricInfo(
            f"run_{how}_{m}",
            METRICS[m].better,
            "mean",
            f"{m} of each run (the r-th vote of every item), {how} over runs",
        )
        for m in RUN_OF
        for how in ("mean", "median")
    }
)
