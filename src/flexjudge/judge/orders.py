"""The orders a judge sees an item's answers in: seeded per item, or both orders for consistency."""

from __future__ import annotations

import random

from flexjudge.core.io import stable_hash

ORDER_POLICIES = ("random", "original", "reversed", "both")


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
