"""Using judge scores: best-of-N selection over a policy's candidate sets, and preference pairs kept only
when the judge agrees with itself in both answer orders.

Best-of-N (the paper's protocol, docs/molecules.md): the policy answered every question S times (S
candidate sets, one per sample index). A trial draws N of the S sets at random; for each question the
candidate with the highest judge score among the N wins, ties broken at random, unscored candidates
dropped (a question left with none counts wrong, and is counted). Accuracy is averaged over the
questions, then mean ± std over the trials. Beside it, per trial on the same draws: a random pick among the
N in expectation (the share right among them: the policy's own accuracy, the line a judge must beat) and the oracle (right if any of the N is right,
the line no judge can beat).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from statistics import mean, pstdev
from typing import Any

LINES = ("judge", "random", "oracle")


def candidate_table(
    rows: Sequence[Mapping[str, Any]],
) -> tuple[list[str], int, dict[str, list[tuple[Any, bool]]]]:
    """Scored answer rows (Drug_ID, sample, score or None, correct) → (question ids, S, {question: [(score,
    correct)] indexed by sample}). Every question must have the same samples 0..S-1."""
    table: dict[str, dict[int, tuple[Any, bool]]] = {}
    for r in rows:
        per = table.setdefault(str(r["Drug_ID"]), {})
        s = int(r["sample"])
        if s in per:
            raise ValueError(f"question {r['Drug_ID']}: sample {s} appears twice")
        per[s] = (r.get("score"), bool(r["correct"]))
    sizes = {tuple(sorted(per)) for per in table.values()}
    if len(sizes) != 1:
        raise ValueError(f"questions have different sample sets: {sorted(sizes)[:3]}")
    samples = sizes.pop()
    if samples != tuple(range(len(samples))):
        raise ValueError(f"samples must be numbered 0..S-1, got {samples[:5]}…")
    ids = sorted(table)
    return ids, len(samples), {q: [table[q][s] for s in samples] for q in ids}


def best_of_n(
    rows: Sequence[Mapping[str, Any]], ns: Sequence[int], *, trials: int = 10, seed: int = 0
) -> dict[str, Any]:
    """The best-of-N curve: {"n_questions", "sets", "trials", "points": [{"n", judge/random/oracle mean and
    std, "unscored": questions with no scored candidate (summed over trials)}]}."""
    ids, sets, table = candidate_table(rows)
    points = []
    for n in ns:
        if not 1 <= n <= sets:
            raise ValueError(f"N={n}: between 1 and the {sets} candidate sets")
        rng = random.Random(f"best-of-n/{seed}/{n}")  # the draws: the same for every judge
        ties = random.Random(f"best-of-n/ties/{seed}/{n}")  # tie-breaking, apart so it cannot shift the draws
        acc = {line: [] for line in LINES}
        unscored = 0
        for _ in range(trials):
            chosen = rng.sample(range(sets), n)
            right = {line: 0.0 for line in LINES}
            for q in ids:
                cands = [table[q][s] for s in chosen]
                scored = [(score, ok) for score, ok in cands if score is not None]
                if scored:
                    top = max(score for score, _ in scored)
                    right["judge"] += ties.choice([ok for score, ok in scored if score == top])
                else:
                    unscored += 1
                right["random"] += sum(ok for _, ok in cands) / n  # a random pick, in expectation
                right["oracle"] += any(ok for _, ok in cands)
            for line in LINES:
                acc[line].append(right[line] / len(ids))
        points.append(
            {
                "n": n,
                **{f"{line}_mean": mean(acc[line]) for line in LINES},
                **{f"{line}_std": pstdev(acc[line]) for line in LINES},
                "unscored": unscored,
            }
        )
    return {"n_questions": len(ids), "sets": sets, "trials": trials, "seed": seed, "points": points}


def agreeing_pairs(
    judged: Sequence[Mapping[str, Any]],
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Preference pairs from both-order judgements. Each judged row has `id`, `prompt`, `responses` [a, b] and
    `orders`: the two presentations' scores in the rows' own order, {"ab": [sa, sb] or None, "ba": [sa, sb] or
    None} (None: the vote did not parse). A pair is kept only if the same response wins both times; a tie in
    either order, an unparsed order or a reversal drops it. Returns (pairs with chosen/rejected, counts by
    outcome)."""
    kept, counts = [], {"kept": 0, "unparsed": 0, "tie": 0, "disagree": 0}
    for row in judged:
        orders = [row["orders"].get("ab"), row["orders"].get("ba")]
        if any(o is None for o in orders):
            counts["unparsed"] += 1
            continue
        winners = []
        for sa, sb in orders:
            winners.append(None if sa == sb else (0 if sa > sb else 1))
        if None in winners:
            counts["tie"] += 1
            continue
        if winners[0] != winners[1]:
            counts["disagree"] += 1
            continue
        w = winners[0]
        counts["kept"] += 1
        kept.append(
            {
                **{k: v for k, v in row.items() if k not in ("responses", "orders")},
                "chosen": row["responses"][w],
                "rejected": row["responses"][1 - w],
                "chosen_index": w,
                "scores": row["orders"],
            }
        )
    return kept, counts
