import math

import pytest

from flexjudge.judge.voting import majority_verdict
from flexjudge.metrics import METRICS, accuracy, pairwise_summary


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


def test_pairwise_summary_by_hand():
    votes = [["A", "A", None], [None, None, None], ["B", "tie", "B"], ["tie", "tie", "A"]]
    voted = [majority_verdict(v) for v in votes]
    assert voted == ["A", None, "B", "tie"]
    gold = ["A", "B", "B", "A"]
    summary = pairwise_summary(votes, voted, gold, ["no_answer_tag"] * 3 + ["unclosed_think"])
    assert summary["accuracy"] == 0.5
    assert summary["accuracy_parsed"] == 2 / 3
    assert summary["parse_failure_rate"] == 4 / 12
    assert summary["unparsed_item_rate"] == 0.25
    assert summary["tie_rate"] == 0.25
    assert summary["first_position_rate"] == 3 / 5  # parsed non-tie votes: A A B B A
    assert summary["n_items"] == 4 and summary["n_votes"] == 12
    assert summary["parse_failures"] == {"no_answer_tag": 3, "unclosed_think": 1}


def test_metric_registry_metadata():
    assert METRICS["accuracy"].better == "higher"
    assert METRICS["parse_failure_rate"].label == "parse_failure_rate ↓"
    assert all(m.better in ("higher", "lower", "neither") for m in METRICS.values())
