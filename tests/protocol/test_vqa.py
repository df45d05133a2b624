"""VQA soft accuracy and the scorer's answer normalization (issue #18, the VQA retention check)."""

from __future__ import annotations

import pytest

from flexjudge.protocol.vqa import mean_vqa_accuracy, normalize_answer, vqa_accuracy


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("The Dog.", "dog"),  # article and final period
        ("two", "2"),  # number words become digits
        ("none", "0"),
        ("3.5", "3.5"),  # a period before a digit stays
        ("e.g. done", "eg done"),  # any other period goes, even inside a word
        ("a cat, a dog", "cat dog"),  # a comma before a space is dropped
        ("black-and-white", "black and white"),  # a hyphen between letters becomes a space
        ("1,000", "1000"),  # a digit-comma-digit drops every punctuation mark
        ("yes!", "yes"),
        ("dont\tknow\n", "don't know"),  # tabs and newlines, and a contraction without its apostrophe
        ("An apple", "apple"),
    ],
)
def test_answers_are_normalized_as_the_vqa_scorer_does(raw, normalized):
    assert normalize_answer(raw) == normalized


def test_soft_accuracy_counts_agreeing_annotators_leaving_each_out():
    assert vqa_accuracy("two", ["2"] * 10) == 1.0
    assert vqa_accuracy("dog", ["dog"] * 2 + ["cat"] * 8) == pytest.approx(0.6)  # (2 x 1/3 + 8 x 2/3) / 10
    assert vqa_accuracy("dog", ["dog"] * 3 + ["cat"] * 7) == pytest.approx(0.9)  # (3 x 2/3 + 7 x 1) / 10
    assert vqa_accuracy("dog", ["dog"] * 4 + ["cat"] * 6) == 1.0
    assert vqa_accuracy("bird", ["dog"] * 10) == 0.0


def test_annotator_answers_keep_their_punctuation_when_they_all_agree():
    # the scorer processes the annotators' punctuation only when they disagree
    assert vqa_accuracy("dog", ["dog."] * 10) == 0.0
    assert vqa_accuracy("dog", ["dog."] * 9 + ["cat"]) == 1.0


def test_mean_accuracy_scores_an_unparsed_answer_zero():
    answers = [["2"] * 10, ["red"] * 10]
    assert mean_vqa_accuracy(["two", None], answers) == 0.5
    with pytest.raises(ValueError, match="2 predictions for 1 items"):
        mean_vqa_accuracy(["a", "b"], answers[:1])
    with pytest.raises(ValueError, match="at least one annotator"):
        vqa_accuracy("a", [])
