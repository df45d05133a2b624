"""Formats: prompts, parsing (typed failures, never raising), order mapping, failure policies, voting."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flexjudge.judge.orders import answer_order, presentation_orders
from flexjudge.protocol import voting
from flexjudge.protocol.formats import (
    BatchRanking,
    BatchVote,
    PairScores,
    PairVerdict,
    ScoreScale,
    SingleScore,
    Verdict4,
    make_format,
)
from flexjudge.protocol.parsing import Parsed, ParseFailure, normalize_verdict4, parse_number
from flexjudge.protocol.prompts import THINK_PREFILL

ALL_FORMATS = [
    PairVerdict(),
    PairVerdict(allow_tie=False),
    PairScores(),
    PairScores(ScoreScale(1, 10), allow_tie=False),
    Verdict4(),
    SingleScore(ScoreScale(1, 5)),
    SingleScore(ScoreScale(1, 10)),
    SingleScore(ScoreScale(1, 5, 1)),
    BatchRanking(),
]


def out(body: str) -> str:
    return THINK_PREFILL + body


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("4", 4.0),
        (" [[7]] ", 7.0),
        ("7/10", 7.0),
        ("3.", 3.0),
        ("10", 10.0),
        ("11", ParseFailure.OUT_OF_RANGE),
        ("0", ParseFailure.OUT_OF_RANGE),
        ("7.5", ParseFailure.WRONG_PRECISION),
        ("7/5", ParseFailure.INVALID_VALUE),
        ("seven", ParseFailure.INVALID_VALUE),
        ("1e1", ParseFailure.INVALID_VALUE),
        ("nan", ParseFailure.INVALID_VALUE),
        ("", ParseFailure.INVALID_VALUE),
    ],
)
def test_numbers_on_a_1_to_10_integer_scale(raw, expected):
    assert parse_number(raw, 1, 10, 0) == expected


def test_one_decimal_scale():
    assert parse_number("3.7", 1, 5, 1) == 3.7
    assert parse_number("3.70", 1, 5, 1) == 3.7  # trailing zero is not extra precision
    assert parse_number("3.75", 1, 5, 1) == ParseFailure.WRONG_PRECISION
    assert ScoreScale(1, 5, 1).values()[:3] == [1.0, 1.1, 1.2] and len(ScoreScale(1, 5, 1).values()) == 41


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("A>B", "A>B"),
        ("b > a", "B>A"),
        ("tie_good", "tie_good"),
        ("Tie (both bad)", "tie_bad"),
        ("both good", "tie_good"),
        ("tie-bad", "tie_bad"),
        ("A>A", None),
        ("tie", None),
        ("good", None),
        ("A", None),
    ],
)
def test_verdict4_labels(raw, expected):
    assert normalize_verdict4(raw) == expected


def test_pair_scores_give_verdicts_and_respect_the_tie_option():
    fmt = PairScores()
    assert fmt.parse(out("x</think><answer>8</answer><answer>3</answer>")).value == "A"
    assert fmt.parse(out("x</think><answer>2</answer><answer>9</answer>")).value == "B"
    assert fmt.parse(out("x</think><answer>5</answer><answer>5</answer>")).value == "tie"
    # without ties the prompt asks for different scores; equal ones still parse, as a tie (never right)
    strict = PairScores(allow_tie=False)
    assert "must differ" in strict.system_prompt(2) and "mean a tie" in fmt.system_prompt(2)
    assert strict.parse(out("x</think><answer>5</answer><answer>5</answer>")).value == "tie"
    assert strict.tie_value is None  # the `tie` failure policy does not apply without ties
    assert fmt.parse(out("x</think><answer>8</answer>")).failure == ParseFailure.WRONG_ANSWER_COUNT
    assert (
        fmt.parse(out("x</think><answer>8</answer><answer>12</answer>")).failure == ParseFailure.OUT_OF_RANGE
    )
    assert "tie" not in strict.system_prompt(2).lower() or "must differ" in strict.system_prompt(2)


TRUNCATED = [
    "The first reply is polite but it does not answer the",  # cut by the token limit inside <think>
    "Reply A is better.\n</think>\n<answer>",  # cut inside the answer tag
    "Reply A is better.\n</think>\n<answer>A</answ",
    "Reply A is better.\n</think>\n",
]


@pytest.mark.parametrize("fmt", ALL_FORMATS, ids=lambda f: f"{f.name}")
def test_truncated_outputs_fail_with_a_reason(fmt):
    n = 3 if isinstance(fmt, BatchRanking) else fmt.n_answers
    for body in TRUNCATED:
        parsed = fmt.parse(out(body), n)
        assert parsed.failure in (ParseFailure.UNCLOSED_THINK, ParseFailure.NO_ANSWER_TAG), body


@pytest.mark.parametrize("fmt", ALL_FORMATS, ids=lambda f: f"{f.name}")
@settings(max_examples=150, deadline=None)
@given(text=st.text())
def test_no_string_makes_a_parser_raise(fmt, text):
    n = 3 if isinstance(fmt, BatchRanking) else fmt.n_answers
    for candidate in (
        text,
        out(text),
        out(f"r</think><answer>{text}</answer>"),
        out(f"r</think><answer>{text}</answer>" * 2),
    ):
        parsed = fmt.parse(candidate, n)
        assert isinstance(parsed, Parsed) and (parsed.value is None) == (parsed.failure is not None)


def test_render_parses_back_for_every_format():
    cases = [
        (PairVerdict(), "B", 2),
        (PairScores(), "tie", 2),
        (Verdict4(), "tie_bad", 2),
        (SingleScore(ScoreScale(1, 5, 1)), 3.3, 1),
        (BatchRanking(), "CAB", 3),
    ]
    for fmt, value, n in cases:
        parsed = fmt.parse(out(fmt.completion("Because.", value)), n)
        assert parsed.ok and parsed.think == "Because."
        got = parsed.value.ranking if isinstance(parsed.value, BatchVote) else parsed.value
        assert got == value


def test_order_mapping_round_trips():
    assert PairVerdict().to_original("A", (1, 0)) == "B" and PairVerdict().to_shown("A", (1, 0)) == "B"
    assert PairVerdict().to_original("tie", (1, 0)) == "tie"
    assert (
        Verdict4().to_original("A>B", (1, 0)) == "B>A"
        and Verdict4().to_original("tie_good", (1, 0)) == "tie_good"
    )
    batch = BatchRanking()
    order = (2, 0, 1)  # shown A = answer C, shown B = answer A, shown C = answer B
    vote = batch.to_original(BatchVote("CAB", (9.0, 8.0, 10.0)), order)
    assert vote == BatchVote("BCA", (8.0, 10.0, 9.0))
    assert batch.to_original(batch.to_shown("BCA", order), order) == "BCA"


def test_presentation_orders():
    assert presentation_orders("x", 2, "both", 0) == [(0, 1), (1, 0)]
    assert presentation_orders("x", 3, "reversed", 0) == [(2, 1, 0)]
    perms = {answer_order(f"i{j}", 4, "random", 0) for j in range(200)}
    assert all(sorted(p) == [0, 1, 2, 3] for p in perms) and len(perms) > 12
    with pytest.raises(ValueError, match="order policy"):
        answer_order("x", 2, "sideways", 0)


def test_failure_policies():
    failed = Parsed(None, ParseFailure.NO_ANSWER_TAG)
    assert PairVerdict().fill(failed, "count_as_wrong") is None
    assert PairVerdict().fill(failed, "tie") == "tie"
    assert SingleScore(ScoreScale(1, 5)).fill(failed, "default_score") == 3.0
    assert SingleScore(ScoreScale(1, 10)).fill(Parsed(7.0, None), "default_score") == 7.0
    with pytest.raises(ValueError, match="does not apply"):
        PairVerdict(allow_tie=False).check_policy("tie")
    with pytest.raises(ValueError, match="does not apply"):
        PairVerdict().check_policy("default_score")
    with pytest.raises(ValueError, match="choose from"):
        SingleScore().check_policy("coin_flip")


def test_voting_rules():
    assert voting.summed_pair_votes(["A", "B", "B", None]) == "B"
    assert voting.summed_pair_votes(["A", "B", "tie"]) == "tie"
    assert voting.summed_pair_votes(["A", "tie", "tie"]) == "A"  # majority would say tie
    assert voting.majority_verdict(["A", "tie", "tie"]) == "tie"
    assert voting.summed_pair_votes([None]) is None
    assert voting.mean_score([4.0, None, 2.0]) == 3.0 and voting.median_score([1.0, 5.0, 4.0]) == 4.0
    assert voting.median_score([1.0, 2.0, 4.0, 5.0]) == 3.0 and voting.mean_score([None]) is None
    assert voting.ranking_from_scores([3, 9, 3]) == "BAC"  # equal scores keep presentation order
    assert voting.borda_ranking(["ABC", "BAC", "BCA"]) == "BAC"  # points A 2+1+0, B 1+2+2, C 0+0+1
    fmt = BatchRanking()
    assert (
        fmt.aggregate([BatchVote("AB", (9.0, 2.0)), BatchVote("BA", (4.0, 5.0)), None], "mean_score") == "AB"
    )
    assert fmt.aggregate([BatchVote("AB", (9.0, 2.0)), BatchVote("BA", (4.0, 5.0))], "borda") == "AB"
    with pytest.raises(ValueError, match="aggregation"):
        fmt.aggregate([], "plurality")


def test_make_format_from_config_values():
    assert make_format("score", [1, 5], 1).scale == ScoreScale(1.0, 5.0, 1)
    assert make_format("pair_verdict", allow_tie=False).allowed == ("A", "B")
    with pytest.raises(ValueError, match="judge format"):
        make_format("likert")
    with pytest.raises(ValueError, match="judges 2 answers"):
        PairVerdict().messages("q", ["a"])
    assert "[Reply C]" in BatchRanking().messages("q", ["a", "b", "c"])[1]["content"]


def test_every_format_has_an_answer_first_prompt():
    """`answer_only` turns each format's reasoning instruction into one to answer at once (Fig. 5's
    answer-first judges); a prompt without a reasoning instruction is refused, not passed through."""
    from flexjudge.protocol.formats import answer_only, make_format

    for name in ("pair_verdict", "pair_scores", "verdict4", "score", "batch"):
        fmt = make_format(name)
        n = fmt.n_answers or 3
        reasoned = fmt.messages("Q?", ["a"] * n)
        direct = fmt.messages("Q?", ["a"] * n, reasoning=False)
        assert direct[1] == reasoned[1], name  # the user turn is the same
        assert "Give no reasoning and write no <think> section" in direct[0]["content"], name
        assert "step by step" not in direct[0]["content"], name
    with pytest.raises(ValueError, match="no reasoning instruction"):
        answer_only("You are a judge. Answer A or B.")
