"""Thinking budgets (s1-style budget forcing) for judges that reason in <think> before answering.

Two controls, applied token by token while a vote is decoded:
- `max_think_tokens` N: once the think section holds N tokens, the engine writes the closing tag and
  the answer opening itself, so the judge must answer now;
- `min_think_rounds` R: when the judge ends its thinking (writes the closing tag, or stops) before it
  has been sent back R times, the close is taken out and `continuation` ("Wait") is written instead.
  After R rounds, a judge that stops without closing gets the close and answer opening written for it.

Whenever budget forcing is on, the think section also ends `ANSWER_RESERVE` tokens before
`max_new_tokens` at the latest, so the answer always fits (s1 pairs extra rounds with a cap the same way).

A third control acts after the thinking, off by default and a deviation from the paper wherever it is on:
- `answer_forcing`: the engine holds the answer to the number of <answer> tags the format asks for (each
  request's `answers`). When the judge would stop with fewer, the engine writes the next tag opening (or
  closes the open tag and opens the next) instead of the stop, and the judge goes on; when it has closed
  that many tags and would write more than the end of its turn, the engine ends the vote there. Every tag
  in the answer still holds the judge's own value; a vote the engine helped counts its `forced_answers`
  (how many times the engine wrote tag text into it) and whether it was `answer_cut`, and evaluations
  report both rates. Answer forcing also makes the budget active, as any budget is: a think section the
  judge would end unclosed, or that reaches `ANSWER_RESERVE` tokens before `max_new_tokens`, is closed
  and the answer opened (counted as `forced_close`); with a think cap (`think64_tags`) that is what the
  cap alone does. It is for small judges that score well but do not count their replies
  (docs/training.md); the paper's judges need none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from flexjudge.protocol.prompts import ANSWER_CLOSE, ANSWER_OPEN, THINK_CLOSE

#: Tokens kept free for the answer after a think section the engine closes.
ANSWER_RESERVE = 16

#: How a run under answer forcing is recorded among its protocol deviations (metrics.json).
ANSWER_FORCING_DEVIATION = (
    "answer forcing: the engine held each answer to the format's <answer> tag count (not in the paper; "
    "votes it helped: thinking.forced_answer_rate, answer_cut_rate)"
)


@dataclass(frozen=True)
class Budget:
    """A thinking budget; the default (no limits) never intervenes."""

    max_think_tokens: int | None = None
    min_think_rounds: int = 0
    continuation: str = "Wait"
    answer_forcing: bool = False  # hold the answer to the format's tag count (module docstring; a deviation)

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
            answer_forcing=bool(cfg.get("answer_forcing", False)),
        )

    @property
    def active(self) -> bool:
        """Whether the engine ever intervenes (answer forcing also closes a think section the judge would end
        unclosed: an answer needs one)."""
        return self.max_think_tokens is not None or self.min_think_rounds > 0 or self.answer_forcing

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
        """What identifies the budget in a generation's cache key (answer forcing only where it is on, so
        the votes cached before it existed keep their keys)."""
        key: dict[str, Any] = {
            "max_think": self.max_think_tokens,
            "rounds": self.min_think_rounds,
            "cont": self.continuation,
        }
        if self.answer_forcing:
            key["answers"] = True
        return key

    #: Text the engine writes to end a think section and open the answer.
    forced_close: ClassVar[str] = f"\n{THINK_CLOSE}\n{ANSWER_OPEN}"

    @property
    def forced_continuation(self) -> str:
        """Text written in place of an early close."""
        return f"\n{self.continuation}"


def held_answer(text: str, answers: int, sampled_end: bool) -> str | None:
    """Answer forcing's move for a vote whose answer part (the text after its think section) is `text`, as
    the judge's next token would end its turn (`sampled_end`) or not: None to let the judge's token stand,
    "" to end the vote now (it has closed `answers` tags and goes on), else the tag text to write instead
    of an early end (close the open tag, open the next). A tag the judge opened and left empty is not
    closed for it: the vote ends as the judge ended it."""
    closes = text.count(ANSWER_CLOSE)
    if closes >= answers:
        return None if sampled_end else ""
    if not sampled_end:
        return None
    if text.count(ANSWER_OPEN) > closes:  # inside a tag
        if not text[text.rfind(ANSWER_OPEN) + len(ANSWER_OPEN) :].strip():
            return None
        return ANSWER_CLOSE + (ANSWER_OPEN if closes + 1 < answers else "")
    return ANSWER_OPEN
