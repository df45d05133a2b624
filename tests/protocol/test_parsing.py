import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flexjudge.protocol.parsing import ParseFailure, normalize_verdict, parse_pair_verdict, split_think

CASES = [
    ("<think>\nA is kinder.\n</think>\n<answer>A</answer>", "A", None),
    ("<think>B cites a source.</think><answer> b </answer>", "B", None),
    ("<think>both fine</think>\n<answer>Tie</answer>", "tie", None),
    ("<think>x</think><answer>[[Reply A]]</answer>", "A", None),
    ("<think>x</think><ANSWER>assistant b</ANSWER>", "B", None),
    ("no tags at all, A is better", None, ParseFailure.NO_ANSWER_TAG),
    ("<think>\nreasoning cut off by the token lim", None, ParseFailure.UNCLOSED_THINK),
    ("<think>I will say <answer>A</answer> when done", None, ParseFailure.UNCLOSED_THINK),
    ("<think>x</think><answer>A</answer><answer>B</answer>", None, ParseFailure.WRONG_ANSWER_COUNT),
    ("<think>x</think><answer>C</answer>", None, ParseFailure.INVALID_VALUE),
    ("<think>x</think><answer>A or B</answer>", None, ParseFailure.INVALID_VALUE),
    ("<think>x</think><answer>A", None, ParseFailure.NO_ANSWER_TAG),
    ("", None, ParseFailure.EMPTY),
    ("   \n", None, ParseFailure.EMPTY),
    # An answer written inside the reasoning does not count; only what follows </think>.
    ("<think>maybe <answer>B</answer></think><answer>A</answer>", "A", None),
    # No think section at all still parses (the format check is the tags, not the reasoning).
    ("<answer>B</answer>", "B", None),
]


@pytest.mark.parametrize(("text", "value", "failure"), CASES)
def test_fixtures(text, value, failure):
    parsed = parse_pair_verdict(text)
    assert parsed.value == value
    assert parsed.failure == failure
    assert parsed.ok == (failure is None)


def test_tie_can_be_disallowed():
    assert (
        parse_pair_verdict("<answer>tie</answer>", allowed=("A", "B")).failure == ParseFailure.TIE_NOT_ALLOWED
    )


def test_think_is_returned():
    assert parse_pair_verdict("<think>\n because \n</think><answer>A</answer>").think == "because"
    assert split_think("plain") == ("", "plain", None)


@pytest.mark.parametrize("raw", ["A", " a ", "**B**", "'tie'", "Answer A.", "(B)"])
def test_normalize_accepts_decorated_letters(raw):
    assert normalize_verdict(raw) in {"A", "B", "tie"}


@pytest.mark.parametrize("raw", ["", "AB", "Assistant", "both", "A and B", "1"])
def test_normalize_rejects_other_text(raw):
    assert normalize_verdict(raw) is None


TAGS = st.sampled_from(
    ["<think>", "</think>", "<answer>", "</answer>", "A", "B", "tie", "\n", " ", "[[", "]]"]
)


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(), st.lists(st.one_of(TAGS, st.text(max_size=5)), max_size=20).map("".join)))
def test_parser_never_raises(text):
    parsed = parse_pair_verdict(text)
    assert (parsed.value is None) != (parsed.failure is None)
    assert parsed.value in (None, "A", "B", "tie")
