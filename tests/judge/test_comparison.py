"""The effect comparison: per-item outcomes from predictions rows, CIs and the paired difference."""

import json

import pytest

from conftest import stage_cfg
from flexjudge.judge.comparison import binomial_p_above, compare, outcomes


def vote(view: int, run: int, value):
    return {"view": view, "run": run, "value": value, "failure": None if value else "no_answer_tag"}


def row(item: str, gold: str, votes: list[dict], prediction, per_view, per_run):
    return {
        "id": item,
        "gold": gold,
        "votes": votes,
        "prediction": prediction,
        "per_view": per_view,
        "per_run": per_run,
    }


# Two items in both orders with k = 2 votes per order (dataset-order verdicts).
CONTROL = [
    # every vote unparsed
    row(
        "i1",
        "A",
        [vote(0, 0, None), vote(0, 1, None), vote(1, 0, None), vote(1, 1, None)],
        None,
        [None, None],
        [None, None],
    ),
    # right in the first order, wrong in the second: inconsistent; k = 2 majority "A" (first sampled)
    row(
        "i2",
        "B",
        [vote(0, 0, "B"), vote(0, 1, "B"), vote(1, 0, "A"), vote(1, 1, "A")],
        "B",
        ["B", "A"],
        ["B", "B"],
    ),
]
TREATED = [
    row(
        "i1",
        "A",
        [vote(0, 0, "A"), vote(0, 1, "A"), vote(1, 0, "A"), vote(1, 1, None)],
        "A",
        ["A", "A"],
        ["A", "A"],
    ),
    # a tie verdict: never right against this gold, but it is a verdict
    row(
        "i2",
        "B",
        [vote(0, 0, "tie"), vote(0, 1, "tie"), vote(1, 0, "tie"), vote(1, 1, "B")],
        "tie",
        ["tie", "tie"],
        ["tie", "tie"],
    ),
]


def test_outcomes_read_all_votes_or_each_orders_first_vote():
    c, t = outcomes(CONTROL, None), outcomes(TREATED, None)
    assert [(o.right, o.verdict, o.parsed_votes, o.consistent) for o in c] == [
        (False, False, 0, False),
        (True, True, 4, False),
    ]
    assert [(o.right, o.tie, o.parsed_votes, o.consistent) for o in t] == [
        (True, False, 3, True),
        (False, True, 4, True),
    ]
    first = outcomes(CONTROL, 1)  # k = 1: run 0 of each order
    assert [(o.votes, o.parsed_votes, o.consistent) for o in first] == [(2, 0, False), (2, 2, False)]
    with pytest.raises(ValueError, match="runs is 1"):
        outcomes(CONTROL, 2)


def test_compare_gives_both_judges_the_paired_difference_and_chance():
    result = compare(outcomes(CONTROL, None), outcomes(TREATED, None), n_boot=200, seed=1)
    s = result["statistics"]
    assert s["parse_rate"]["control"] == 4 / 8 and s["parse_rate"]["treated"] == 7 / 8
    assert s["accuracy"]["control"] == 0.5 and s["accuracy"]["treated"] == 0.5
    assert s["accuracy_parsed"]["control"] == 1.0 and s["accuracy_parsed"]["treated"] == 0.5
    assert s["tie_rate"]["treated"] == 0.5 and s["accuracy_decisive"]["treated"] == 1.0
    assert s["consistency"]["control"] == 0.0 and s["consistency"]["treated"] == 1.0
    assert s["parse_rate"]["difference"] == pytest.approx(3 / 8)
    low, high = s["parse_rate"]["difference_ci95"]
    assert low <= 3 / 8 <= high and high <= 1.0
    # the paired difference of accuracies lies within [-1, 1]
    assert -1.0 <= s["accuracy"]["difference_ci95"][0] <= s["accuracy"]["difference_ci95"][1] <= 1.0
    assert result["treated_vs_chance"]["accuracy_p"] == pytest.approx(0.75)  # P(X >= 1), X ~ Bin(2, 0.5)
    with pytest.raises(ValueError, match="same items"):
        compare(outcomes(CONTROL, None), outcomes(TREATED[:1], None))


def test_binomial_tail():
    assert binomial_p_above(10, 10) == pytest.approx(2**-10)
    assert binomial_p_above(0, 10) == pytest.approx(1.0)
    assert binomial_p_above(60, 100) == pytest.approx(0.028443966820490403)


def test_effect_stage_writes_table_and_plot(tmp_path):
    from flexjudge.effect import run

    for name, rows in (("base", CONTROL), ("flex", TREATED)):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        (folder / "metrics.json").write_text(
            json.dumps({"k": 2, "benchmark": "hh_harmless_heldout", "budget": "think64"})
        )
    result = run(
        stage_cfg(
            "effect",
            tmp_path,
            f"control.predictions={tmp_path / 'base' / 'predictions.jsonl'}",
            f"treated.predictions={tmp_path / 'flex' / 'predictions.jsonl'}",
            f"out_dir={tmp_path / 'out'}",
            "n_boot=100",
        )
    )
    assert list(result["by_k"]) == ["k = 2", "k = 1 (first vote of each order)"]
    md = (tmp_path / "out" / "effect.md").read_text()
    assert "| parse rate (votes) | 0.500" in md and "flex − base (paired)" in md
    assert (tmp_path / "out" / "effect.png").stat().st_size > 5000
    assert json.loads((tmp_path / "out" / "effect.json").read_text())["n_items"] == 2
