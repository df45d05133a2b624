"""Present a preference pair to the judge: which reply is shown as A, and what the gold verdict is."""

from __future__ import annotations

import random
from dataclasses import dataclass

from flexjudge.data.schemas import PairItem
from flexjudge.io import stable_hash
from flexjudge.judge.prompts import THINK_PREFILL, pair_messages

ORDER_POLICIES = ("random", "original", "reversed", "both")


@dataclass(frozen=True)
class Presentation:
    """An item as shown: replies in A/B order and the gold verdict for that order."""

    item: PairItem
    answer_a: str
    answer_b: str
    gold: str  # "A" or "B"

    @property
    def swapped(self) -> bool:
        return self.gold == "B"

    def messages(self, hint: bool = False) -> list[dict]:
        """The judge's chat messages for this order; with `hint`, the gold verdict is given (rationalization)."""
        return pair_messages(
            self.item.question, self.answer_a, self.answer_b, hint_verdict=self.gold if hint else None
        )


def answer_order(item_id: str, n: int, policy: str, seed: int) -> tuple[int, ...]:
    """Which answer is shown at each position (position i shows answer order[i]); seeded per item."""
    if policy == "original":
        return tuple(range(n))
    if policy == "reversed":
        return tuple(reversed(range(n)))
    if policy == "random":
        rng = random.Random(stable_hash("order", item_id, seed))
        if n == 2:
            return (0, 1) if rng.random() < 0.5 else (1, 0)
        order = list(range(n))
        rng.shuffle(order)
        return tuple(order)
    raise ValueError(f"order policy {policy!r}: expected one of {ORDER_POLICIES}")


def presentation_orders(item_id: str, n: int, policy: str, seed: int) -> list[tuple[int, ...]]:
    """The orders an item is judged in: one, or for `both` the original and the reversed order."""
    if policy == "both":
        return [answer_order(item_id, n, "original", seed), answer_order(item_id, n, "reversed", seed)]
    return [answer_order(item_id, n, policy, seed)]


def chosen_first(item_id: str, policy: str, seed: int) -> bool:
    """Whether the human-preferred reply is shown as A: seeded per item for `random`."""
    return answer_order(item_id, 2, policy, seed)[0] == 0


def present(item: PairItem, policy: str = "random", seed: int = 0) -> Presentation:
    """Place the chosen/rejected replies as A/B by the order policy."""
    if policy == "both":
        raise ValueError("order policy 'both' shows an item twice; it applies to evaluation only")
    if chosen_first(item.id, policy, seed):
        return Presentation(item, item.chosen, item.rejected, "A")
    return Presentation(item, item.rejected, item.chosen, "B")


def render_prompt(tokenizer, messages: list[dict], prefill_think: bool) -> str:
    """Chat-template the messages and open the assistant turn (inside <think> when prefill_think)."""
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return text + THINK_PREFILL if prefill_think else text


def generated_with_prefill(text: str, prefill_think: bool) -> str:
    """The assistant's full answer text: the prefilled opening plus what the model generated."""
    return THINK_PREFILL + text if prefill_think else text
