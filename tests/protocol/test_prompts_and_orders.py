from collections import Counter

import pytest

from flexjudge.judge.orders import answer_order
from flexjudge.protocol.parsing import parse_pair_verdict
from flexjudge.protocol.prompts import PAIR_SYSTEM, THINK_PREFILL, judge_completion, judge_messages


def test_order_policies():
    assert answer_order("hh-000001", 2, "original", 0) == (0, 1)
    assert answer_order("hh-000001", 2, "reversed", 0) == (1, 0)
    assert answer_order("hh-000001", 4, "reversed", 0) == (3, 2, 1, 0)
    with pytest.raises(ValueError, match="order policy"):
        answer_order("hh-000001", 2, "sideways", 0)


def test_random_order_is_seeded_per_item_and_balanced():
    ids = [f"hh-{i:06d}" for i in range(2000)]
    firsts = [answer_order(i, 2, "random", 0)[0] for i in ids]
    assert firsts == [answer_order(i, 2, "random", 0)[0] for i in ids]
    assert firsts != [answer_order(i, 2, "random", 1)[0] for i in ids]
    assert abs(Counter(firsts)[0] - 1000) < 100  # ~4.5 standard deviations
    assert sorted(answer_order("hh-000007", 4, "random", 0)) == [0, 1, 2, 3]


def test_messages_and_media_placeholders():
    msgs = judge_messages(PAIR_SYSTEM, "Human: hi", ["a", "b"], media=[{"type": "image", "path": "x.png"}])
    assert msgs[0]["role"] == "system" and "<think>" in msgs[0]["content"]
    parts = msgs[1]["content"]
    assert parts[0]["type"] == "image" and parts[1]["type"] == "text"
    assert parts[1]["text"].index("[Reply A]") < parts[1]["text"].index("[Reply B]")
    with pytest.raises(ValueError):
        judge_messages(PAIR_SYSTEM, "q", ["a", "b"], media=[{"type": "smell"}])


def test_completion_parses_to_its_verdict():
    text = THINK_PREFILL + judge_completion("B is more careful.", ["B"])
    parsed = parse_pair_verdict(text)
    assert parsed.value == "B" and parsed.think == "B is more careful."
