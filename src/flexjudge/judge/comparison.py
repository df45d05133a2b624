"""Two judges on the same items, compared item by item: what the effect experiment reports.

From each judge's per-item rows (evaluate's predictions.jsonl) this computes, for k votes (every vote)
and for k = 1 (each view's first vote, i.e. run 0), the parse rate of single votes, the accuracy with
unparsed items counted wrong, the accuracy over the items that got a verdict (and over those whose verdict
is not a tie), the share of items with a verdict and with a tie, and the both-orders
consistency; a percentile bootstrap 95% CI for each (resampling items); a paired bootstrap CI of the
treated-minus-control difference (the same resampled items for both judges); and an exact binomial test
of the accuracy against chance (0.5). A tie verdict is never right here (the gold has no ties).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

CHANCE = 0.5


@dataclass(frozen=True)
class ItemOutcome:
    """One item as judged by one judge under one vote budget."""

    id: str
    right: bool  # the verdict equals the gold (unparsed and tie are not right)
    verdict: bool  # a verdict came out (some vote parsed)
    tie: bool  # the verdict is a tie (equal scores): never right against this gold
    votes: int
    parsed_votes: int
    consistent: bool | None  # both orders gave the same verdict (None: the item was shown in one order)
    both_parsed: bool  # both orders gave a verdict


def outcomes(rows: Sequence[dict[str, Any]], runs: int | None) -> list[ItemOutcome]:
    """Per-item outcomes from predictions rows; `runs=1` reads only each view's first vote (k = 1),
    None every vote (the k the judge was run with)."""
    out = []
    for row in rows:
        if runs is None:
            prediction, views = row["prediction"], row["per_view"]
            votes = row["votes"]
        else:
            if runs != 1:
                raise ValueError("outcomes: runs is 1 (first votes) or None (all votes)")
            votes = [v for v in row["votes"] if v["run"] == 0]
            prediction = row["per_run"][0]
            # per view, the first vote's dataset-order verdict
            views = [
                next(v["value"] for v in votes if v["view"] == view)
                for view in sorted({v["view"] for v in votes})
            ]
        parsed = sum(v["failure"] is None for v in votes)
        consistent = None
        if len(views) > 1:
            consistent = len(set(views)) == 1 and views[0] is not None
        out.append(
            ItemOutcome(
                id=row["id"],
                right=prediction is not None and prediction == row["gold"],
                verdict=prediction is not None,
                tie=prediction is not None and str(prediction).startswith("tie"),
                votes=len(votes),
                parsed_votes=parsed,
                consistent=consistent,
                both_parsed=all(v is not None for v in views),
            )
        )
    return out


# Each statistic is a function of a list of outcomes (nan where it is undefined, e.g. no parsed item).
def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


STATISTICS: dict[str, Callable[[Sequence[ItemOutcome]], float]] = {
    "parse_rate": lambda o: sum(x.parsed_votes for x in o) / sum(x.votes for x in o) if o else float("nan"),
    "accuracy": lambda o: _mean([x.right for x in o]),
    "accuracy_parsed": lambda o: _mean([x.right for x in o if x.verdict]),
    "accuracy_decisive": lambda o: _mean([x.right for x in o if x.verdict and not x.tie]),
    "verdict_rate": lambda o: _mean([x.verdict for x in o]),
    "tie_rate": lambda o: _mean([x.tie for x in o]),
    "consistency": lambda o: _mean([bool(x.consistent) for x in o if x.consistent is not None]),
    "consistency_parsed": lambda o: _mean(
        [bool(x.consistent) for x in o if x.consistent is not None and x.both_parsed]
    ),
}


def _percentile_ci(samples: np.ndarray, alpha: float = 0.05) -> list[float]:
    samples = samples[~np.isnan(samples)]
    if not len(samples):
        return [float("nan"), float("nan")]
    return [float(np.quantile(samples, alpha / 2)), float(np.quantile(samples, 1 - alpha / 2))]


def binomial_p_above(successes: int, n: int, p: float = CHANCE) -> float:
    """One-sided exact binomial p-value of at least `successes` of `n` when each succeeds with p."""
    if n == 0:
        return float("nan")
    return float(sum(math.comb(n, j) * p**j * (1 - p) ** (n - j) for j in range(successes, n + 1)))


def compare(
    control: Sequence[ItemOutcome],
    treated: Sequence[ItemOutcome],
    *,
    n_boot: int = 2000,
    seed: int = 0,
) -> dict[str, Any]:
    """Every statistic for both judges with bootstrap CIs, and the paired treated-minus-control difference."""
    by_id = {x.id: x for x in treated}
    if {x.id for x in control} != set(by_id):
        missing = sorted({x.id for x in control} ^ set(by_id))[:5]
        raise ValueError(f"the two judges were not run on the same items (e.g. {missing})")
    treated = [by_id[x.id] for x in control]  # paired: the same item at the same index
    n = len(control)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n, size=(n_boot, n))
    result: dict[str, Any] = {"n_items": n, "n_boot": n_boot, "statistics": {}}
    for name, stat in STATISTICS.items():
        c_boot = np.array([stat([control[i] for i in idx]) for idx in draws])
        t_boot = np.array([stat([treated[i] for i in idx]) for idx in draws])
        c, t = stat(control), stat(treated)
        result["statistics"][name] = {
            "control": c,
            "control_ci95": _percentile_ci(c_boot),
            "treated": t,
            "treated_ci95": _percentile_ci(t_boot),
            "difference": t - c,
            "difference_ci95": _percentile_ci(t_boot - c_boot),
        }
    for side, items in (("control", control), ("treated", treated)):
        right = sum(x.right for x in items)
        parsed = [x for x in items if x.verdict]
        result[f"{side}_vs_chance"] = {
            "accuracy_p": binomial_p_above(right, n),
            "accuracy_parsed_p": binomial_p_above(sum(x.right for x in parsed), len(parsed)),
            "accuracy_clears_chance": result["statistics"]["accuracy"][f"{side}_ci95"][0] > CHANCE,
            "accuracy_parsed_clears_chance": result["statistics"]["accuracy_parsed"][f"{side}_ci95"][0]
            > CHANCE,
        }
    return result
