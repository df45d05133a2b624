"""Thinking budgets (s1-style budget forcing) for judges that reason in <think> before answering.

Two controls, applied token by token while a vote is decoded:
- `max_think_tokens` N: once the think section holds N tokens, the engine writes the closing tag and
  the answer opening itself, so the judge must answer now;
- `min_think_rounds` R: when the judge ends its thinking (writes the closing tag, or stops) before it
  has been sent back R times, the close is taken out and `continuation` ("Wait") is written instead.
  After R rounds, a judge that stops without closing gets the close and answer opening written for it.

Whenever budget forcing is on, the think section also ends `ANSWER_RESERVE` tokens before
`max_new_tokens` at the latest, so the answer always fits (s1 pairs extra rounds with a cap the same way).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from flexjudge.protocol.prompts import ANSWER_OPEN, THINK_CLOSE

#: Tokens kept free for the answer after a think section the engine closes.
ANSWER_RESERVE = 16


@dataclass(frozen=True)
class Budget:
    """A thinking budget; the default (no limits) never intervenes."""

    max_think_tokens: int | None = None
    min_think_rounds: int = 0
    continuation: str = "Wait"

    def __post_init__(self) -> None:
        if self.max_think_tokens is not None and self.max_think_tokens < 1:
            raise ValueError(f"max_think_tokens={self.max_think_tokens}: must be >= 1 or null")
        if not 0 <= self.min_think_rounds <= 16:
            raise ValueError(f"min_think_rounds={self.min_think_rounds}: must be between 0 and 16")
        if self.min_think_rounds and not self.continuation.strip():
            raise ValueError("min_think_rounds > 0 needs a non-empty continuation string")

    @classmethod
    def from_conf(cls, cfg: Any) -> Budget:
        """From a conf/budget/*.yaml node (or any mapping with the same keys)."""
        return cls(
            max_think_tokens=cfg.get("max_think_tokens"),
            min_think_rounds=int(cfg.get("min_think_rounds") or 0),
            continuation=str(cfg.get("continuation", "Wait")),
        )

    @property
    def active(self) -> bool:
        """Whether the engine ever intervenes."""
        return self.max_think_tokens is not None or self.min_think_rounds > 0

    def check(self, max_new_tokens: int, where: str = "budget") -> None:
        """A max think budget must leave room for the forced close and an answer."""
        if self.max_think_tokens is not None and self.max_think_tokens + ANSWER_RESERVE > max_new_tokens:
            raise ValueError(
                f"{where}: max_think_tokens={self.max_think_tokens} leaves no room to answer within "
                f"max_new_tokens={max_new_tokens}; raise max_new_tokens to at least "
                f"max_think_tokens + {ANSWER_RESERVE}"
            )

    def think_cap(self, max_new_tokens: int) -> int | None:
        """Think tokens after which the engine closes the section (None: budget forcing is off)."""
        if not self.active:
            return None
        reserve = max(1, max_new_tokens - ANSWER_RESERVE)
        return min(self.max_think_tokens or reserve, reserve)

    def key(self) -> dict[str, Any]:
        """What identifies the budget in a generation's cache key."""
        return {
            "max_think": self.max_think_tokens,
            "rounds": self.min_think_rounds,
            "cont": self.continuation,
        }

    #: Text the engine writes to end a think section and open the answer.
    forced_close: ClassVar[str] = f"\n{THINK_CLOSE}\n{ANSWER_OPEN}"

    @property
    def forced_continuation(self) -> str:
        """Text written in place of an early close."""
        return f"\n{self.continuation}"
