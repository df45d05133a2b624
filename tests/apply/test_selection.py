"""Best-of-N selection and the both-orders pair filter (flexjudge.apply.selection), and policy answer
parsing (flexjudge.apply.policy)."""

import pytest

from flexjudge.apply.policy import Task, answer_summary, parse_label
from flexjudge.apply.selection import agreeing_pairs, best_of_n

PAMPA = Task(
    "pampa",
    {"default": "Is {smiles} permeable?"},
    {1: ("high permeability",), 0: ("low-to-moderate permeability", "moderate permeability")},
    "Judge it.",
)


def rows(table):
    """{question: [(score, correct), ...]} → scored answer rows."""
    return [
        {"Drug_ID": q, "sample": s, "score": score, "correct": ok}
        for q, cands in table.items()
        for s, (score, ok) in enumerate(cands)
    ]


def test_parse_label_reads_only_after_the_final_answer():
    assert parse_label("It has high permeability.\nFinal answer: Low-to-moderate permeability", PAMPA) == (
        0,
        None,
    )
    assert parse_label("Final answer: high permeability.", PAMPA) == (1, None)
    assert parse_label("Final answer: moderate permeability", PAMPA) == (0, None)
    assert parse_label("high permeability", PAMPA) == (None, "no final answer")
    assert parse_label("Final answer: it depends", PAMPA) == (None, "no label")
    assert parse_label("Final answer: high permeability or low-to-moderate permeability", PAMPA) == (
        None,
        "both labels",
    )
    # a phrase glued inside another word is no label
    assert parse_label("Final answer: superhigh permeability", PAMPA) == (None, "no label")


def test_task_prompt_names_a_missing_column():
    task = Task("t", {"task_info": "pIC50 {pIC50}"}, PAMPA.labels, "r")
    assert task.prompt("task_info", {"pIC50": 7.5}) == "pIC50 7.5"
    with pytest.raises(Exception, match="column 'pIC50'"):
        task.prompt("task_info", {"Drug": "C"}, "molecules.csv:3")


def test_answer_summary_counts_unparsed_as_wrong():
    s = answer_summary(
        [
            {"prediction": 1, "correct": True, "parse_failure": None, "continued": False},
            {"prediction": None, "correct": False, "parse_failure": "no label", "continued": True},
        ]
    )
    assert s["accuracy"] == 0.5 and s["accuracy_parsed"] == 1.0 and s["parse_rate"] == 0.5
    assert s["parse_failures"] == {"no label": 1} and s["continued"] == 1


def test_best_of_n_with_a_perfect_judge_reaches_the_oracle():
    table = {
        f"m{i}": [(10.0 if (i + s) % 4 == 0 else 1.0, (i + s) % 4 == 0) for s in range(8)] for i in range(6)
    }
    curve = best_of_n(rows(table), [1, 2, 4, 8], trials=10)
    points = {p["n"]: p for p in curve["points"]}
    for p in points.values():
        assert p["judge_mean"] == p["oracle_mean"]
    assert points[8]["judge_mean"] == 1.0 and points[1]["judge_mean"] == pytest.approx(
        points[1]["random_mean"]
    )
    assert points[8]["random_mean"] == pytest.approx(0.25)  # a random pick keeps the policy's 2 right of 8


def test_best_of_n_ties_are_broken_at_random_and_unscored_dropped():
    # every candidate scored alike: the pick is random, so the judge line follows the random line
    tie = {f"m{i}": [(5.0, s % 2 == 0) for s in range(4)] for i in range(40)}
    p = best_of_n(rows(tie), [4], trials=10)["points"][0]
    assert 0.35 < p["judge_mean"] < 0.65 and p["oracle_mean"] == 1.0
    # the only right answer is unscored: dropped, so the judge picks among the wrong ones
    unscored = {"m": [(None, True), (3.0, False), (2.0, False)]}
    p = best_of_n(rows(unscored), [3], trials=3)["points"][0]
    assert p["judge_mean"] == 0.0 and p["oracle_mean"] == 1.0 and p["unscored"] == 0
    none = {"m": [(None, True), (None, False)]}
    p = best_of_n(rows(none), [2], trials=4)["points"][0]
    assert p["judge_mean"] == 0.0 and p["unscored"] == 4


def test_best_of_n_rejects_uneven_sets_and_bad_n():
    with pytest.raises(ValueError, match="different sample sets"):
        best_of_n(rows({"a": [(1.0, True), (2.0, False)], "b": [(1.0, True)]}), [1])
    with pytest.raises(ValueError, match="N=3"):
        best_of_n(rows({"a": [(1.0, True), (2.0, False)]}), [3])


def test_agreeing_pairs_keeps_only_order_consistent_winners():
    base = {"prompt": "p", "responses": ["x", "y"]}
    judged = [
        {**base, "id": "keep-a", "orders": {"ab": [8, 3], "ba": [7, 2]}},
        {**base, "id": "keep-b", "orders": {"ab": [2, 9], "ba": [1, 6]}},
        {**base, "id": "flip", "orders": {"ab": [8, 3], "ba": [3, 8]}},
        {**base, "id": "tie", "orders": {"ab": [5, 5], "ba": [6, 2]}},
        {**base, "id": "lost", "orders": {"ab": None, "ba": [6, 2]}},
    ]
    pairs, counts = agreeing_pairs(judged)
    assert counts == {"kept": 2, "unparsed": 1, "tie": 1, "disagree": 1}
    assert [(p["id"], p["chosen"], p["rejected"]) for p in pairs] == [
        ("keep-a", "x", "y"),
        ("keep-b", "y", "x"),
    ]


def test_best_of_n_draws_are_the_same_for_every_judge():
    # one judge ties everywhere (many tie-breaks), the other never: the oracle line must not move
    right = [[s % 3 == 0 for s in range(8)] for _ in range(10)]
    tied = {f"m{i}": [(5.0, ok) for ok in r] for i, r in enumerate(right)}
    exact = {f"m{i}": [(10.0 if ok else 1.0, ok) for ok in r] for i, r in enumerate(right)}
    a, b = best_of_n(rows(tied), [2, 4]), best_of_n(rows(exact), [2, 4])
    assert [p["oracle_mean"] for p in a["points"]] == [p["oracle_mean"] for p in b["points"]]
    assert [p["judge_mean"] for p in b["points"]] == [p["oracle_mean"] for p in b["points"]]
