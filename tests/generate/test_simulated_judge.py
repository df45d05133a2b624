"""The judging machinery against a judge whose error, position-bias and parse-failure rates are known."""

import math

import pytest

from flexjudge.data.schemas import JudgeItem
from flexjudge.generate.simulated import SimulatedJudge, majority_accuracy
from flexjudge.judge.scoring import build_views, judge_items, summarize
from flexjudge.protocol.formats import BatchRanking, PairVerdict, ScoreScale, SingleScore

N_ITEMS = 5000
PAIRS = [JudgeItem(f"item-{i:05d}", "q", ("chosen", "rejected"), "A") for i in range(N_ITEMS)]


def run_pairs(judge, k, order="random", items=PAIRS, aggregation="majority", policy="count_as_wrong"):
    fmt = PairVerdict()
    views = build_views(items, order, seed=0)
    gens = [judge.judge(fmt, v.key, fmt.to_shown(v.item.gold, v.order), 2, k) for v in views]
    rows = judge_items(fmt, views, gens, prefill_think=True, failure_policy=policy, aggregation=aggregation)
    return summarize(fmt, rows, n_boot=0)


@pytest.mark.parametrize("p", [0.2, 0.4])
@pytest.mark.parametrize("k", [1, 3, 5, 9])
def test_majority_vote_accuracy_matches_closed_form(p, k):
    measured = run_pairs(SimulatedJudge(error_rate=p, seed=k), k)["accuracy"]
    expected = majority_accuracy(p, k)
    se = math.sqrt(expected * (1 - expected) / N_ITEMS)
    assert abs(measured - expected) <= 3 * se, (measured, expected, se)


def test_closed_form_values():
    assert majority_accuracy(0.2, 1) == pytest.approx(0.8)
    assert majority_accuracy(0.2, 3) == pytest.approx(0.8**3 + 3 * 0.8**2 * 0.2)
    assert majority_accuracy(0.4, 2) == pytest.approx(0.6**2 + 0.5 * 2 * 0.6 * 0.4)


def test_position_bias_shows_up_in_first_position_and_consistency_rates():
    unbiased = run_pairs(SimulatedJudge(error_rate=0.2, seed=1), 1, items=PAIRS[:2000])
    biased = run_pairs(SimulatedJudge(error_rate=0.2, position_bias=0.4, seed=1), 1, items=PAIRS[:2000])
    # random order: a bias b makes P(vote = first shown) = b + (1 - b)/2
    for result, b in ((unbiased, 0.0), (biased, 0.4)):
        expected = b + (1 - b) / 2
        assert abs(result["first_position_rate"] - expected) <= 3 * math.sqrt(
            expected * (1 - expected) / 2000
        )
    both = run_pairs(
        SimulatedJudge(error_rate=0.0, position_bias=0.4, seed=1), 1, order="both", items=PAIRS[:2000]
    )
    # error-free: the original view is always right (bias and truth both pick A); the reversed view
    # agrees with it unless the bias moves its vote to the first position, i.e. with probability 1 - b
    expected = 1 - 0.4
    assert abs(both["consistency_rate"] - expected) <= 3 * math.sqrt(expected * (1 - expected) / 2000)
    assert both["n_votes"] == 4000 and both["first_position_rate"] > 0.65


def test_parse_failures_are_counted_never_coerced():
    judge = SimulatedJudge(error_rate=0.0, parse_failure_rate=0.3, seed=2)
    counted = run_pairs(judge, 1, items=PAIRS[:2000])
    assert abs(counted["parse_failure_rate"] - 0.3) < 0.04
    assert counted["parse_failures"] == {
        "unclosed_think": round(counted["n_votes"] * counted["parse_failure_rate"])
    }
    assert counted["accuracy"] == pytest.approx(1 - counted["unparsed_item_rate"])
    as_tie = run_pairs(judge, 1, items=PAIRS[:2000], policy="tie")
    assert as_tie["parse_failure_rate"] == counted["parse_failure_rate"]  # still reported under the policy
    assert as_tie["tie_rate"] == pytest.approx(counted["parse_failure_rate"])


def test_scores_and_rankings_through_the_same_machinery():
    scale = ScoreScale(1, 5)
    items = [JudgeItem(f"s{i}", "q", ("answer",), float(1 + i % 5), system=f"sys{i % 4}") for i in range(400)]
    fmt = SingleScore(scale)
    views = build_views(items, "original", 0)
    perfect = [SimulatedJudge(0.0).judge(fmt, v.key, v.item.gold, 1, 3) for v in views]
    rows = judge_items(
        fmt, views, perfect, prefill_think=True, failure_policy="count_as_wrong", aggregation="mean"
    )
    result = summarize(fmt, rows, n_boot=0)
    assert result["pearson"] == pytest.approx(1.0) and result["spearman"] == pytest.approx(1.0)
    noisy = [SimulatedJudge(0.5, seed=3).judge(fmt, v.key, v.item.gold, 1, 3) for v in views]
    rows = judge_items(
        fmt, views, noisy, prefill_think=True, failure_policy="count_as_wrong", aggregation="mean"
    )
    noisy_result = summarize(fmt, rows, n_boot=300)
    assert 0.2 < noisy_result["pearson"] < 0.95
    lo, hi = noisy_result["pearson_ci95"]
    assert lo < noisy_result["pearson"] < hi and hi - lo < 0.3

    batch = BatchRanking()
    ranked = [JudgeItem(f"b{i}", "q", ("x", "y", "z"), "BCA") for i in range(300)]
    views = build_views(ranked, "random", 0)
    gens = [SimulatedJudge(0.0).judge(batch, v.key, batch.to_shown("BCA", v.order), 3, 1) for v in views]
    rows = judge_items(
        batch, views, gens, prefill_think=True, failure_policy="count_as_wrong", aggregation="mean_score"
    )
    result = summarize(batch, rows, n_boot=0)
    assert result["normalized_levenshtein"] == 0.0 and result["exact_ranking_rate"] == 1.0


def test_rates_are_validated():
    with pytest.raises(ValueError, match="error_rate"):
        SimulatedJudge(error_rate=1.5)
