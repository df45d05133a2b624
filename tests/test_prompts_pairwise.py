from collections import Counter

import pytest

from flexjudge.data.schemas import PairItem
from flexjudge.judge.pairwise import present
from flexjudge.judge.parsing import parse_pair_verdict
from flexjudge.judge.prompts import THINK_PREFILL, pair_completion, pair_messages

ITEM = PairItem("hh-000001", "Human: hi", "hello!", "go away", "f:1")


def test_order_policies():
    assert present(ITEM, "original").answer_a == "hello!" and present(ITEM, "original").gold == "A"
    assert present(ITEM, "reversed").answer_a == "go away" and present(ITEM, "reversed").gold == "B"
    with pytest.raises(ValueError, match="order policy"):
        present(ITEM, "sideways")


def test_random_order_is_seeded_per_item_and_balanced():
    items = [PairItem(f"hh-{i:06d}", "q", "c", "r", "f") for i in range(2000)]
    golds = [present(it, "random", seed=0).gold for it in items]
    assert golds == [present(it, "random", seed=0).gold for it in items]
    assert golds != [present(it, "random", seed=1).gold for it in items]
    counts = Counter(golds)
    assert abs(counts["A"] - 1000) < 100  # ~4.5 standard deviations
    for it, g in zip(items[:50], golds[:50], strict=True):
        p = present(it, "random", seed=0)
        assert (p.answer_a, p.answer_b) == (
            (it.chosen, it.rejected) if g == "A" else (it.rejected, it.chosen)
        )


def test_messages_and_media_placeholders():
    msgs = pair_messages("Human: hi", "a", "b", media=[{"type": "image", "path": "x.png"}])
    assert msgs[0]["role"] == "system" and "<think>" in msgs[0]["content"]
    parts = msgs[1]["content"]
    assert parts[0]["type"] == "image" and parts[1]["type"] == "text"
    assert parts[1]["text"].index("[Reply A]") < parts[1]["text"].index("[Reply B]")
    with pytest.raises(ValueError):
        pair_messages("q", "a", "b", media=[{"type": "smell"}])


def test_hint_is_in_the_user_turn_only_when_asked():
    plain = pair_messages("q", "a", "b")[1]["content"]
    hinted = pair_messages("q", "a", "b", hint_verdict="B")[1]["content"]
    assert "reviewer" not in plain and "reply B is better" in hinted


def test_completion_parses_to_its_verdict():
    text = THINK_PREFILL + pair_completion("B is more careful.", "B")
    parsed = parse_pair_verdict(text)
    assert parsed.value == "B" and parsed.think == "B is more careful."


def test_presentation_messages_follow_its_order_and_hint_its_gold():
    shown = present(ITEM, "reversed")
    text = shown.messages()[1]["content"]
    assert text.index("go away") < text.index("hello!")  # the rejected reply is A here
    hinted = shown.messages(hint=True)[1]["content"]
    assert hinted == pair_messages(ITEM.question, "go away", "hello!", hint_verdict="B")[1]["content"]
    assert "reply B is better" in hinted
