"""The molecular summary's accuracy: molecules resampled, N sampled answers per molecule counted once."""

import pytest

from flexjudge.molreport import paired_accuracy


def rows(right: dict[str, list[bool]]) -> list[dict]:
    return [
        {"Drug_ID": m, "correct": c, "prediction": 1 if c else None}
        for m, answers in right.items()
        for c in answers
    ]


def test_sampled_answers_count_each_molecule_once():
    before = rows({"a": [True], "b": [False], "c": [False], "d": [False]})
    after = rows({"a": [True] * 4, "b": [True, True, False, False], "c": [False] * 4, "d": [True] * 4})
    s = paired_accuracy(before, after, n_boot=500, seed=0)
    assert s["before"] == pytest.approx(0.25)
    assert s["after"] == pytest.approx((1 + 0.5 + 0 + 1) / 4)
    assert s["difference"] == pytest.approx(0.375)
    assert s["answers_per_molecule"] == 4
    assert s["parse_rate_after"] == pytest.approx(10 / 16)
    lo, hi = s["difference_ci95"]
    assert lo <= s["difference"] <= hi and lo >= 0  # never worse on any molecule: the paired CI stays >= 0


def test_different_molecules_are_an_error():
    with pytest.raises(ValueError, match="different molecules"):
        paired_accuracy(rows({"a": [True]}), rows({"b": [True]}), n_boot=10, seed=0)
