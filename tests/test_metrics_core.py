"""Metric values against scipy and hand-computed fixtures (to 1e-9)."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from flexjudge import metrics as M

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
