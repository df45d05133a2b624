"""VQA soft accuracy and the scorer's answer normalization (issue #18, the VQA retention check)."""

from __future__ import annotations

import pytest

from flexjudge.protocol.vqa import (
    ANSWER_INSTRUCTION,
    answer_messages,
    mean_vqa_accuracy,
    normalize_answer,
    parse_answer,
    vqa_accuracy,
)


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


def test_the_answering_prompt_keeps_the_image_before_the_question():
    messages = answer_messages("  what does the sign say? ", [{"type": "image", "path": "x.jpg"}])
    content = messages[0]["content"]
    assert messages[0]["role"] == "user" and content[0] == {"type": "image", "path": "x.jpg"}
    assert content[1]["text"] == f"what does the sign say?\n{ANSWER_INSTRUCTION}"
    with pytest.raises(ValueError, match="type must be"):
        answer_messages("q", [{"type": "pdf"}])


@pytest.mark.parametrize(
    ("reply", "parsed"),
    [
        ("stop\nBecause the sign is red.", ("stop", None)),
        ("\n\n  Two dogs  \n", ("Two dogs", None)),
        ("<think>red sign</think><answer> stop </answer>", ("stop", None)),  # the judge's trained format
        ("<answer>stop", (None, "unclosed_answer_tag")),
        ("<answer> </answer>", (None, "empty_answer_tag")),
        ("   \n ", (None, "empty")),
    ],
)
def test_a_reply_gives_its_answer_or_a_counted_reason(reply, parsed):
    assert parse_answer(reply) == parsed
