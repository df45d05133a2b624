"""A simulated judge with known error, position-bias and parse-failure rates (no model).

It exists to test the judging machinery end to end: prompts are not read; each vote is drawn from the
gold value *as shown* and written out as real judge text, which then goes through the same parser,
failure policy, voting and metrics as a model's output. Per vote, independently:

- with probability `parse_failure_rate` the text has no answer tag;
- else with probability `position_bias` the vote favours the first shown answer;
- else with probability `error_rate` it is a wrong value (uniform over the wrong ones), otherwise gold.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flexjudge.core.io import stable_hash
from flexjudge.generate.engine import Generation
from flexjudge.protocol.formats import (
    VERDICT4,
    BatchRanking,
    JudgeFormat,
    PairScores,
    PairVerdict,
    SingleScore,
)
from flexjudge.protocol.prompts import answer_letters

UNPARSABLE = "I am not sure which reply is better, so I will stop here."


@dataclass(frozen=True)
class SimulatedJudge:
    """Known-rate judge; deterministic for (seed, item key, vote index)."""

    error_rate: float
    position_bias: float = 0.0
    parse_failure_rate: float = 0.0
    seed: int = 0

    def __post_init__(self):
        for name in ("error_rate", "position_bias", "parse_failure_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"simulated judge: {name}={getattr(self, name)} must lie in [0, 1]")

    def judge(self, fmt: JudgeFormat, key: str, gold_shown: Any, n_answers: int, k: int) -> list[Generation]:
        """k votes on one presentation whose gold value (in shown order) is `gold_shown` (None: the item
        has no gold, and each parsed vote is drawn uniformly from the format's values)."""
        votes = []
        for i in range(k):
            rng = random.Random(stable_hash("simulated", self.seed, key, i))
            u = rng.random()
            if u < self.parse_failure_rate:
                text = UNPARSABLE
            else:
                if u < self.parse_failure_rate + self.position_bias:
                    value = first_position_value(fmt, n_answers)
                elif gold_shown is None:  # an item without gold (a user's own row): any valid value
                    value = rng.choice(wrong_values(fmt, None, n_answers))
                elif rng.random() < self.error_rate:
                    value = rng.choice(wrong_values(fmt, gold_shown, n_answers))
                else:
                    value = gold_shown
                text = fmt.completion("Simulated reasoning.", value)
            votes.append(Generation(text=text, n_tokens=len(text.split()), finished=True))
        return votes


def first_position_value(fmt: JudgeFormat, n_answers: int) -> Any:
    """The value that prefers the first shown answer."""
    if isinstance(fmt, PairVerdict | PairScores):
        return "A"
    if isinstance(fmt, SingleScore):
        return fmt.scale.high
    if isinstance(fmt, BatchRanking):
        return answer_letters(n_answers)
    return "A>B"


def wrong_values(fmt: JudgeFormat, gold: Any, n_answers: int) -> list[Any]:
    """Every valid value other than gold (a wrong vote is drawn uniformly from these)."""
    if isinstance(fmt, PairVerdict | PairScores):
        options: Sequence[Any] = ("A", "B", "tie") if fmt.tie_value else ("A", "B")
        if gold != "tie":  # a wrong verdict on a decided pair flips it (a tie is not counted as an error)
            options = ("A", "B")
    elif isinstance(fmt, SingleScore):
        options = fmt.scale.values()
    elif isinstance(fmt, BatchRanking):
        options = ["".join(p) for p in itertools.permutations(answer_letters(n_answers))]
    else:
        options = VERDICT4
    return [v for v in options if v != gold]


def majority_accuracy(p: float, k: int) -> float:
    """P(majority of k i.i.d. binary votes is right) when each is wrong with probability p.

    An even split is decided by the first vote sampled, which is right half of the time.
    """
    right = sum(math.comb(k, j) * (1 - p) ** j * p ** (k - j) for j in range(k // 2 + 1, k + 1))
    if k % 2 == 0:
        right += 0.5 * math.comb(k, k // 2) * (1 - p) ** (k // 2) * p ** (k // 2)
    return right
