import math

import pytest

from flexjudge.data.schemas import JudgeItem
from flexjudge.generate.engine import Generation
from flexjudge.judge.metrics import METRICS, accuracy
from flexjudge.judge.scoring import build_views, judge_items, summarize
from flexjudge.protocol.formats import PairVerdict
from flexjudge.protocol.voting import majority_verdict


@pytest.mark.parametrize(
    ("votes", "expected"),
    [
        (["A"], "A"),
        (["A", "B", "B"], "B"),
        ([None, None, "A"], "A"),
        ([None, None], None),
        ([], None),
        (["B", "A"], "B"),  # 1–1: the first sampled wins
        (["A", "B", "B", "A"], "A"),  # 2–2: A was sampled first
        (["tie", "A", "tie"], "tie"),
    ],
)
def test_majority(votes, expected):
    assert majority_verdict(votes) == expected


def test_accuracy_counts_none_as_wrong():
    assert accuracy(["A", None, "B", "tie"], ["A", "A", "B", "B"]) == 0.5
    with pytest.raises(ValueError):
        accuracy(["A"], ["A", "B"])
    assert math.isnan(accuracy([], []))


def test_verdict_summary_by_hand():
    fmt = PairVerdict()
    said = {
        "A": "ok</think><answer>A</answer>",
        "B": "ok</think><answer>B</answer>",
        "tie": "ok</think><answer>tie</answer>",
        "none": "ok</think>no tags",
        "cut": "still thinking",
    }
    votes = [["A", "A", "none"], ["none", "none", "cut"], ["B", "tie", "B"], ["tie", "tie", "A"]]
    gold = ["A", "B", "B", "A"]
    items = [JudgeItem(f"i{i}", "q", ("x", "y"), g) for i, g in enumerate(gold)]
    views = build_views(items, "original", 0)
    gens = [[Generation(said[v], 3, True) for v in item_votes] for item_votes in votes]
    rows = judge_items(
        fmt, views, gens, prefill_think=True, failure_policy="count_as_wrong", aggregation="majority"
    )
    assert [r["prediction"] for r in rows] == ["A", None, "B", "tie"]
    summary = summarize(fmt, rows, n_boot=200)
    assert summary["accuracy"] == 0.5
    assert summary["accuracy_without_tie"] == 0.5  # no gold ties here
    assert summary["accuracy_parsed"] == 2 / 3
    assert summary["parse_failure_rate"] == 4 / 12
    assert summary["unparsed_item_rate"] == 0.25
    assert summary["tie_rate"] == 0.25
    assert summary["first_position_rate"] == 3 / 5  # parsed non-tie votes: A A B B A
    assert summary["n_items"] == 4 and summary["n_votes"] == 12
    assert summary["parse_failures"] == {"no_answer_tag": 3, "unclosed_think": 1}
    lo, hi = summary["accuracy_ci95"]
    assert 0.0 <= lo <= 0.5 <= hi <= 1.0


def test_metric_registry_metadata():
    assert METRICS["accuracy"].better == "higher"
    assert METRICS["parse_failure_rate"].label == "parse_failure_rate ↓"
    assert all(m.better in ("higher", "lower", "neither") for m in METRICS.values())
    assert all(m.aggregation in ("mean", "sum", "none") for m in METRICS.values())
    assert METRICS["normalized_levenshtein"].better == "lower" and METRICS["pearson"].better == "higher"
