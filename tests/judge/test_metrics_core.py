"""Metric values against scipy and hand-computed fixtures (to 1e-9)."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from flexjudge.judge import metrics as M

RNG = np.random.default_rng(7)
DATASETS = [
    (RNG.normal(size=50), RNG.normal(size=50)),
    (RNG.integers(1, 6, 80).astype(float), RNG.integers(1, 6, 80).astype(float)),  # many ties
    (np.arange(30.0), np.arange(30.0) ** 2 + RNG.normal(size=30)),
]


@pytest.mark.parametrize(("x", "y"), DATASETS)
def test_correlations_equal_scipy(x, y):
    assert M.pearson(x, y) == pytest.approx(stats.pearsonr(x, y)[0], abs=1e-9)
    assert M.spearman(x, y) == pytest.approx(stats.spearmanr(x, y)[0], abs=1e-9)
    assert M.kendall(x, y) == pytest.approx(stats.kendalltau(x, y, variant="b")[0], abs=1e-9)


def test_correlations_by_hand():
    x, y = [1, 2, 3, 4], [1, 3, 2, 4]
    # Pearson: deviations (-1.5,-.5,.5,1.5) each side; sum of products = 2.25+(-.5)(.5)+(.5)(-.5)+2.25 = 4; sum sq = 5
    assert M.pearson(x, y) == pytest.approx(4 / 5, abs=1e-12)
    # Spearman on these untied ranks: 1 - 6·Σd²/(n(n²-1)) = 1 - 6·2/60 = 0.8
    assert M.spearman(x, y) == pytest.approx(0.8, abs=1e-12)
    # Kendall: 6 pairs, one discordant (2,3): (5 - 1)/6
    assert M.kendall(x, y) == pytest.approx(4 / 6, abs=1e-12)
    assert math.isnan(M.pearson([1], [2])) and math.isnan(M.pearson([1, 1], [2, 3]))
    with pytest.raises(ValueError):
        M.pearson([1, 2], [1])


def test_accuracy_with_and_without_tie():
    pred = ["A", "tie", "B", None, "tie"]
    gold = ["A", "tie", "A", "B", "B"]
    assert M.accuracy_with_tie(pred, gold) == 2 / 5
    assert M.accuracy_without_tie(pred, gold) == 1 / 4  # gold tie row dropped; predicted tie on B is wrong
    assert M.accuracy_without_tie(["tie_good", "A>B"], ["tie_good", "A>B"]) == 1.0


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("ABCD", "ABDC", 0.5),
        ("", "AB", 1.0),
        ("", "", 0.0),
        ("ABC", "ABC", 0.0),
        ("ABC", "CAB", 2 / 3),
        ("AB", "ABC", 1 / 3),
    ],
)
def test_normalized_levenshtein(a, b, expected):
    assert M.normalized_levenshtein(a, b) == pytest.approx(expected, abs=1e-12)


@given(st.text(alphabet="ABCDE", max_size=8), st.text(alphabet="ABCDE", max_size=8))
def test_levenshtein_is_symmetric_and_bounded(a, b):
    d = M.normalized_levenshtein(a, b)
    assert d == M.normalized_levenshtein(b, a) and 0.0 <= d <= 1.0 and (d == 0.0) == (a == b)


def test_system_level_and_unscored_items():
    pred = [1.0, 2.0, None, 4.0, 5.0, 3.0]
    gold = [1.0, 3.0, 2.0, 4.0, 4.0, 2.0]
    systems = ["s1", "s1", "s1", "s2", "s2", "s3"]
    sp, sg = M.system_level(
        [1.0, 2.0, 4.0, 5.0, 3.0], [1.0, 3.0, 4.0, 4.0, 2.0], ["s1", "s1", "s2", "s2", "s3"]
    )
    assert sp == [1.5, 4.5, 3.0] and sg == [2.0, 4.0, 2.0]
    out = M.utterance_and_system_correlations(pred, gold, systems)
    assert out["n_unscored"] == 1
    kept = [0, 1, 3, 4, 5]
    assert out["lcc"] == pytest.approx(
        stats.pearsonr([pred[i] for i in kept], [gold[i] for i in kept])[0], abs=1e-9
    )
    assert out["sys_lcc"] == pytest.approx(stats.pearsonr(sp, sg)[0], abs=1e-9)
    assert out["sys_srcc"] == pytest.approx(stats.spearmanr(sp, sg)[0], abs=1e-9)


def test_macro_average():
    assert M.macro_average({"a": 0.5, "b": 1.0}) == 0.75
    assert math.isnan(M.macro_average({"a": 0.5, "b": float("nan")}))


def test_bootstrap_ci():
    rng = np.random.default_rng(0)
    gold = ["A"] * 800
    pred = ["A" if u < 0.7 else "B" for u in rng.random(800)]
    small = M.bootstrap_ci(M.accuracy, pred[:200], gold[:200], n_boot=500, seed=1)
    large = M.bootstrap_ci(M.accuracy, pred, gold, n_boot=500, seed=1)
    assert small[0] <= M.accuracy(pred[:200], gold[:200]) <= small[1]
    assert large[1] - large[0] < small[1] - small[0]
    assert small == M.bootstrap_ci(M.accuracy, pred[:200], gold[:200], n_boot=500, seed=1)


def test_correlations_by_hand_with_ties():
    x, y = [1, 2, 2, 3], [1, 3, 2, 2]
    # Pearson: means 2 and 2; deviations (-1,0,0,1) and (-1,1,0,0); Σ products = 1, Σ squares = 2 each -> 1/2
    assert M.pearson(x, y) == pytest.approx(0.5, abs=1e-12)
    # Spearman: average ranks (1,2.5,2.5,4) and (1,4,2.5,2.5); deviations from 2.5 are (-1.5,0,0,1.5)
    # and (-1.5,1.5,0,0); Σ products = 2.25, Σ squares = 4.5 each -> 0.5
    assert M.spearman(x, y) == pytest.approx(0.5, abs=1e-12)
    # Kendall tau-b over 6 pairs: (0,1),(0,2),(0,3) concordant; (1,3) discordant; (1,2) tied in x only;
    # (2,3) tied in y only -> (3 - 1) / sqrt((6 - 1) * (6 - 1)) = 0.4
    assert M.kendall(x, y) == pytest.approx(0.4, abs=1e-12)


@pytest.mark.parametrize("f", [M.pearson, M.spearman, M.kendall])
def test_correlations_degenerate_inputs(f):
    assert math.isnan(f([], []))
    assert math.isnan(f([1.0], [2.0]))
    # A constant side is nan even when its float mean is not exactly the constant (mean of ten 0.3s != 0.3).
    assert math.isnan(f([0.3] * 10, list(range(10))))
    assert math.isnan(f(list(range(10)), [0.7] * 10))
    assert math.isnan(f([1.0, float("nan"), 3.0], [1.0, 2.0, 3.0]))
    assert f([1, 2, 3], [1, 2, 4]) > 0 and f([1, 2, 3], [4, 2, 1]) < 0
    with pytest.raises(ValueError):
        f([1, 2, 3], [1, 2])


def test_kendall_on_many_rows_matches_scipy():
    # More rows than one block of the pair count (2**20 entries), so the blocked sum is exercised.
    rng = np.random.default_rng(3)
    x = rng.integers(0, 20, 1500).astype(float)
    y = x + rng.integers(-5, 6, 1500)
    assert M.kendall(x, y) == pytest.approx(stats.kendalltau(x, y, variant="b")[0], abs=1e-9)


def test_accuracy_edge_cases():
    assert math.isnan(M.accuracy_with_tie([], []))
    assert math.isnan(M.accuracy_without_tie(["A", "tie"], ["tie", "tie"]))  # every gold row is a tie
    assert M.accuracy_without_tie([None, "B"], ["A", "B"]) == 0.5
    with pytest.raises(ValueError):
        M.accuracy_with_tie(["A"], ["A", "B"])
    with pytest.raises(ValueError):
        M.accuracy_without_tie(["A"], ["A", "B"])


def test_correlation_summary_edge_cases():
    out = M.utterance_and_system_correlations([None, None, 1.0], [1.0, 2.0, 3.0])
    assert out["n_unscored"] == 2 and math.isnan(out["lcc"]) and "sys_lcc" not in out
    with pytest.raises(ValueError):
        M.utterance_and_system_correlations([1.0, 2.0], [1.0])
    with pytest.raises(ValueError):
        M.utterance_and_system_correlations([1.0, 2.0], [1.0, 2.0], ["s1"])


def test_macro_average_edge_cases():
    assert M.macro_average({"a": 0.2, "b": 0.4, "c": 0.9}) == pytest.approx(0.5)
    assert math.isnan(M.macro_average({}))


def test_bootstrap_ci_edge_cases():
    lo, hi = M.bootstrap_ci(M.pearson, [1.0, 1.0, 1.0], [1.0, 2.0, 3.0], n_boot=20)
    assert math.isnan(lo) and math.isnan(hi)  # every resample has a constant side
    assert M.bootstrap_ci(M.accuracy, ["A"] * 5, ["A"] * 5, n_boot=20) == (1.0, 1.0)
    assert M.bootstrap_ci(M.accuracy, ["A", "B"] * 50, ["A"] * 100, seed=2) != M.bootstrap_ci(
        M.accuracy, ["A", "B"] * 50, ["A"] * 100, seed=3
    )
    for bad in (
        lambda: M.bootstrap_ci(M.accuracy),
        lambda: M.bootstrap_ci(M.accuracy, ["A"], ["A", "B"]),
        lambda: M.bootstrap_ci(M.accuracy, [], []),
        lambda: M.bootstrap_ci(M.accuracy, ["A"], ["A"], n_boot=0),
        lambda: M.bootstrap_ci(M.accuracy, ["A"], ["A"], alpha=1.0),
    ):
        with pytest.raises(ValueError):
            bad()


def test_metric_registry():
    assert all(name == m.name for name, m in M.METRICS.items())
    assert all(m.better in ("higher", "lower", "neither") for m in M.METRICS.values())
    assert all(m.aggregation in ("mean", "sum", "none") for m in M.METRICS.values())
    assert all(m.description for m in M.METRICS.values())
    expected = {
        "accuracy": ("higher", "mean"),
        "accuracy_without_tie": ("higher", "mean"),
        "pearson": ("higher", "mean"),
        "spearman": ("higher", "mean"),
        "kendall": ("higher", "mean"),
        "sys_lcc": ("higher", "mean"),
        "sys_srcc": ("higher", "mean"),
        "normalized_levenshtein": ("lower", "mean"),
        "n_unscored": ("lower", "sum"),
        "consistency_rate": ("higher", "mean"),
    }
    assert {k: (M.METRICS[k].better, M.METRICS[k].aggregation) for k in expected} == expected
    assert M.METRICS["normalized_levenshtein"].label == "normalized_levenshtein ↓"


def test_best_of_n_by_hand():
    # m1: right 9.0 beats wrong 3.0; m2: tie at the top between a right and a wrong one (1/2), and a
    # wrong unparsed one; m3: all unparsed, one of two right (random pick 1/2); m4: no right response.
    pred = [9.0, 3.0, 7.0, 7.0, None, None, None, 5.0]
    right = [True, False, True, False, False, True, False, False]
    groups = ["m1", "m1", "m2", "m2", "m2", "m3", "m3", "m4"]
    out = M.best_of_n(pred, right, groups)
    assert out["best_of_n_accuracy"] == pytest.approx((1 + 0.5 + 0.5 + 0) / 4)
    # pairs (right, wrong): m1 1 win; m2 vs tie 0.5, vs unparsed 1; m3 both unparsed 0.5
    assert out["pairwise_auc"] == pytest.approx((1 + 0.5 + 1 + 0.5) / 4)
    assert out["policy_accuracy"] == pytest.approx((1 / 2 + 1 / 3 + 1 / 2 + 0) / 4)
    assert out["oracle_accuracy"] == pytest.approx(3 / 4)
    with pytest.raises(ValueError, match="3 scores, 2 labels"):
        M.best_of_n([1.0, 2.0, 3.0], [True, False], ["a", "a", "a"])
    assert math.isnan(M.best_of_n([1.0], [True], ["a"])["pairwise_auc"])  # no (right, wrong) pair
