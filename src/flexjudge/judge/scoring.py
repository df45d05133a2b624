"""From judge outputs to per-item results and benchmark metrics, for every format.

An item is judged in one or more *views* (answer orders). Each vote is parsed in its view's order,
filled by the failure policy, mapped back to dataset order, and the item's votes from all views are
aggregated. Parse failures are counted from the raw parse, whatever the policy fills in.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flexjudge.data.schemas import JudgeItem
from flexjudge.generate.engine import Generation
from flexjudge.judge import metrics as M
from flexjudge.judge.orders import presentation_orders
from flexjudge.protocol.formats import BatchRanking, BatchVote, JudgeFormat, SingleScore
from flexjudge.protocol.prompts import generated_with_prefill


@dataclass(frozen=True)
class View:
    """One presentation of an item: position i shows answer order[i]."""

    item: JudgeItem
    order: tuple[int, ...]
    index: int  # which of the item's views (0, or 0/1 for order=both)

    @property
    def key(self) -> str:
        return f"{self.item.id}#{self.index}"

    @property
    def answers(self) -> list[str]:
        return [self.item.answers[i] for i in self.order]

    @property
    def answer_media(self) -> list[tuple[dict[str, Any], ...]]:
        """Each shown answer's own media (empty when the item has none)."""
        return [self.item.answer_media[i] for i in self.order] if self.item.answer_media else []

    @property
    def media(self) -> tuple[dict[str, Any], ...]:
        """All media in prompt order: the question's, then each shown answer's."""
        return (*self.item.media, *(m for answer in self.answer_media for m in answer))


def build_views(items: Sequence[JudgeItem], policy: str, seed: int) -> list[View]:
    """Every item's views under the order policy (random/original/reversed: one; both: two)."""
    return [
        View(item, order, i)
        for item in items
        for i, order in enumerate(presentation_orders(item.id, len(item.answers), policy, seed))
    ]


def _plain(value: Any) -> Any:
    return {"ranking": value.ranking, "scores": list(value.scores)} if isinstance(value, BatchVote) else value


def judge_items(
    fmt: JudgeFormat,
    views: Sequence[View],
    generations: Sequence[Sequence[Generation]],
    *,
    prefill_think: bool,
    failure_policy: str,
    aggregation: str,
) -> list[dict[str, Any]]:
    """Per-item rows: every vote (raw text, parse, filled and dataset-order value) and the aggregate."""
    by_item: dict[str, list[dict[str, Any]]] = defaultdict(list)
    items: dict[str, JudgeItem] = {}
    for view, gens in zip(views, generations, strict=True):
        items[view.item.id] = view.item
        for run, gen in enumerate(gens):
            parsed = fmt.parse(generated_with_prefill(gen.text, prefill_think), len(view.order))
            filled = fmt.fill(parsed, failure_policy)
            by_item[view.item.id].append(
                {
                    "view": view.index,
                    "run": run,  # vote index: run r of the paper's protocol (seed r)
                    "order": list(view.order),
                    "shown": filled,
                    "value": fmt.to_original(filled, view.order),
                    "failure": parsed.failure.value if parsed.failure else None,
                    "n_tokens": gen.n_tokens,
                    "finished": gen.finished,
                    "think_tokens": gen.think_tokens,
                    "answer_tokens": gen.answer_tokens,
                    "rounds": gen.rounds,
                    "forced_close": gen.forced_close,
                    "forced_answers": gen.forced_answers,
                    "answer_cut": gen.answer_cut,
                    "text": gen.text,
                }
            )
    rows = []
    for item_id, votes in by_item.items():
        item = items[item_id]
        per_view = {
            v: fmt.aggregate([x["value"] for x in votes if x["view"] == v], aggregation)
            for v in sorted({x["view"] for x in votes})
        }
        rows.append(
            {
                "id": item_id,
                "subset": item.subset,
                "system": item.system,
                "group": item.group,
                "gold": item.gold,
                "prediction": fmt.aggregate([x["value"] for x in votes], aggregation),
                "per_view": [per_view[v] for v in sorted(per_view)],
                # each run's own verdict (its votes over the views), for per-run protocol metrics
                "per_run": [
                    _plain(fmt.aggregate([x["value"] for x in votes if x["run"] == r], aggregation))
                    for r in sorted({x["run"] for x in votes})
                ],
                "votes": [{**x, "shown": _plain(x["shown"]), "value": _plain(x["value"])} for x in votes],
            }
        )
    return rows


def summarize(fmt: JudgeFormat, rows: Sequence[dict[str, Any]], *, n_boot: int = 1000, seed: int = 0):
    """Benchmark metrics for the format, per subset and macro-averaged when there are several subsets."""
    result = _summary(fmt, rows, n_boot=n_boot, seed=seed)
    subsets = sorted({r["subset"] for r in rows})
    by_subset = (
        {s: _summary(fmt, [r for r in rows if r["subset"] == s], n_boot=0) for s in subsets}
        if len(subsets) > 1
        else {}
    )
    if by_subset:
        result["by_subset"] = by_subset
    for metric in M.MACRO_OF:  # with one subset the macro average is the metric itself
        if metric in result:
            values = {s: m[metric] for s, m in by_subset.items()} or {"all": result[metric]}
            result[f"macro_{metric}"] = M.macro_average(values)
    result.update(per_run_metrics(fmt, rows, subsets))
    return result


def per_run_metrics(fmt: JudgeFormat, rows: Sequence[dict[str, Any]], subsets: list[str]) -> dict[str, Any]:
    """With k > 1 votes, the headline metric (and its macro average) of each run alone — run r is every
    item's r-th vote, as the paper's seeds — with their mean and median (the paper averages runs on most
    benchmarks and takes the median Pearson on MLLM-as-a-Judge score)."""
    runs = min((len(r["per_run"]) for r in rows), default=0)
    if runs < 2:
        return {}
    headline = run_metric(fmt)
    out: dict[str, Any] = {}
    names = [headline, f"macro_{headline}"] if len(subsets) > 1 else [headline]
    values: dict[str, list[float]] = {n: [] for n in names}
    for r in range(runs):
        run_rows = [{**row, "prediction": row["per_run"][r]} for row in rows]
        values[headline].append(_summary(fmt, run_rows, n_boot=0)[headline])
        if len(subsets) > 1:
            values[f"macro_{headline}"].append(
                M.macro_average(
                    {
                        s: _summary(fmt, [x for x in run_rows if x["subset"] == s], n_boot=0)[headline]
                        for s in subsets
                    }
                )
            )
    for name, per_run in values.items():
        out[f"runs_{name}"] = per_run
        out[f"run_mean_{name}"] = statistics.fmean(per_run)
        out[f"run_median_{name}"] = statistics.median(per_run)
    return out


def thinking_stats(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Token accounting over all votes: think and answer lengths, rounds sent back, forced closes, and what
    answer forcing did (votes it wrote tag text for, votes it ended at the format's tag count)."""
    votes = [v for r in rows for v in r["votes"]]
    think = [v["think_tokens"] for v in votes if v.get("think_tokens") is not None]
    answer = [v["answer_tokens"] for v in votes if v.get("answer_tokens") is not None]
    n = len(votes)
    return {
        "mean_think_tokens": sum(think) / len(think) if think else None,
        "max_think_tokens": max(think) if think else None,
        "mean_answer_tokens": sum(answer) / len(answer) if answer else None,
        "mean_rounds": sum(v.get("rounds", 0) for v in votes) / n if n else None,
        "forced_close_rate": sum(bool(v.get("forced_close")) for v in votes) / n if n else None,
        "forced_answer_rate": sum(bool(v.get("forced_answers")) for v in votes) / n if n else None,
        "answer_cut_rate": sum(bool(v.get("answer_cut")) for v in votes) / n if n else None,
        "answer_forcing_rate": (
            sum(bool(v.get("forced_answers") or v.get("answer_cut")) for v in votes) / n if n else None
        ),
    }


def run_metric(fmt: JudgeFormat) -> str:
    """The metric each run of a k-vote evaluation is scored by (`per_run_metrics`); a benchmark's headline
    is its registry entry's (`BenchmarkSpec.headline`)."""
    if isinstance(fmt, SingleScore):
        return "pearson"
    if isinstance(fmt, BatchRanking):
        return "normalized_levenshtein"
    return "accuracy"


def failure_stats(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Parse accounting over judged rows: failure rate per vote, unparsed items, counts by reason."""
    votes = [v for r in rows for v in r["votes"]]
    failures = Counter(v["failure"] for v in votes if v["failure"])
    n = len(rows)
    return {
        "parse_failure_rate": sum(failures.values()) / len(votes) if votes else float("nan"),
        "unparsed_item_rate": sum(r["prediction"] is None for r in rows) / n if n else float("nan"),
        "n_items": n,
        "n_votes": len(votes),
        "parse_failures": dict(failures),
    }


def _summary(fmt: JudgeFormat, rows: Sequence[dict[str, Any]], *, n_boot: int, seed: int = 0):
    if isinstance(fmt, SingleScore):
        out = _score_summary(rows, n_boot, seed)
        if rows and all(r.get("group") is not None for r in rows):
            # candidate responses to shared prompts: a response is right when its gold is the top score
            right = [float(r["gold"]) >= fmt.scale.high for r in rows]
            out.update(M.best_of_n([r["prediction"] for r in rows], right, [r["group"] for r in rows]))
        return out
    if isinstance(fmt, BatchRanking):
        return _batch_summary(rows, n_boot, seed)
    return _verdict_summary(rows, n_boot, seed)


def _verdict_summary(rows, n_boot: int, seed: int) -> dict[str, Any]:
    pred = [r["prediction"] for r in rows]
    gold = [r["gold"] for r in rows]
    shown = [v["shown"] for r in rows for v in r["votes"] if v["shown"] is not None]
    decisive = [v for v in shown if not v.startswith("tie")]
    answered = [(p, g) for p, g in zip(pred, gold, strict=True) if p is not None]
    out = {
        "accuracy": M.accuracy_with_tie(pred, gold),
        "accuracy_without_tie": M.accuracy_without_tie(pred, gold),
        "accuracy_decisive": M.accuracy_decisive(pred, gold),
        "macro_f1": M.f1_macro(pred, gold),
        "accuracy_parsed": M.accuracy([p for p, _ in answered], [g for _, g in answered]),
        **failure_stats(rows),
        "tie_rate": sum(p is not None and p.startswith("tie") for p in pred) / len(rows)
        if rows
        else float("nan"),
        "first_position_rate": sum(v.startswith("A") for v in decisive) / len(decisive)
        if decisive
        else float("nan"),
    }
    multi = [r["per_view"] for r in rows if len(r["per_view"]) > 1]
    if multi:
        out["consistency_rate"] = sum(len(set(views)) == 1 and views[0] is not None for views in multi) / len(
            multi
        )
    if n_boot and rows:
        out["accuracy_ci95"] = list(M.bootstrap_ci(M.accuracy_with_tie, pred, gold, n_boot=n_boot, seed=seed))
    return out


def _score_summary(rows, n_boot: int, seed: int) -> dict[str, Any]:
    pred = [r["prediction"] for r in rows]
    gold = [float(r["gold"]) for r in rows]
    systems = [r["system"] for r in rows]
    corr = M.utterance_and_system_correlations(pred, gold, systems if all(systems) else None)
    out = {"pearson": corr["lcc"], "spearman": corr["srcc"], "kendall": corr["ktau"], **failure_stats(rows)}
    out.update({k: v for k, v in corr.items() if k in ("sys_lcc", "sys_srcc", "n_unscored")})
    scored = [p for p in pred if p is not None]
    out["mean_score"] = statistics.fmean(scored) if scored else float("nan")
    if n_boot and len(scored) > 1:
        pairs = [(p, g) for p, g in zip(pred, gold, strict=True) if p is not None]
        out["pearson_ci95"] = list(
            M.bootstrap_ci(M.pearson, [p for p, _ in pairs], [g for _, g in pairs], n_boot=n_boot, seed=seed)
        )
    return out


def _batch_summary(rows, n_boot: int, seed: int) -> dict[str, Any]:
    # An item without a parsed ranking is as far from gold as a ranking can be (distance 1.0).
    distances = [
        1.0 if r["prediction"] is None else M.normalized_levenshtein(r["prediction"], r["gold"]) for r in rows
    ]
    scores = [v["value"]["scores"] for r in rows for v in r["votes"] if v["value"] is not None]
    tied = [len(set(s)) < len(s) for s in scores]
    out = {
        "normalized_levenshtein": statistics.fmean(distances) if distances else float("nan"),
        "exact_ranking_rate": sum(r["prediction"] == r["gold"] for r in rows) / len(rows)
        if rows
        else float("nan"),
        "tied_ranking_rate": sum(tied) / len(tied) if tied else float("nan"),
        **failure_stats(rows),
    }
    if n_boot and rows:
        out["normalized_levenshtein_ci95"] = list(
            M.bootstrap_ci(statistics.fmean, distances, n_boot=n_boot, seed=seed)
        )
    return out
