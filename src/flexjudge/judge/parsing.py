"""Parse judge output. Never raises on model text: returns a value or a typed failure reason."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from flexjudge.judge.prompts import ANSWER_CLOSE, ANSWER_OPEN, PAIR_VERDICTS, THINK_CLOSE, THINK_OPEN


class ParseFailure(str, Enum):
    """Why an output has no usable answer (reported as counts; never turned into an answer)."""

    EMPTY = "empty"
    UNCLOSED_THINK = "unclosed_think"
    NO_ANSWER_TAG = "no_answer_tag"
    WRONG_ANSWER_COUNT = "wrong_answer_count"
    INVALID_VALUE = "invalid_value"


@dataclass(frozen=True)
class Parsed:
    """A parsed output: `value` is set iff `failure` is None; `think` is the reasoning text found."""

    value: str | None
    failure: ParseFailure | None
    think: str = ""

    @property
    def ok(self) -> bool:
        return self.failure is None


_ANSWER_RE = re.compile(
    re.escape(ANSWER_OPEN) + r"(.*?)" + re.escape(ANSWER_CLOSE), re.DOTALL | re.IGNORECASE
)
_VERDICT_RE = re.compile(r"^(?:(?:reply|assistant|answer|response)\s+)?([ab]|tie)$", re.IGNORECASE)


def split_think(text: str) -> tuple[str, str, ParseFailure | None]:
    """Split into (reasoning, text after reasoning). An opened but unclosed think section is a failure."""
    open_at = text.find(THINK_OPEN)
    close_at = text.rfind(THINK_CLOSE)
    if close_at >= 0:
        start = open_at + len(THINK_OPEN) if 0 <= open_at < close_at else 0
        return text[start:close_at].strip(), text[close_at + len(THINK_CLOSE) :], None
    if open_at >= 0:
        return text[open_at + len(THINK_OPEN) :].strip(), "", ParseFailure.UNCLOSED_THINK
    return "", text, None


def answer_spans(text: str) -> list[str]:
    """Contents of every <answer>…</answer> pair, stripped."""
    return [m.group(1).strip() for m in _ANSWER_RE.finditer(text)]


def normalize_verdict(raw: str) -> str | None:
    """Map 'A', 'reply b', 'Tie', '[[A]]' … to A/B/tie; None when it is something else."""
    cleaned = raw.strip().strip("[](){}\"'*.:` ").strip()
    m = _VERDICT_RE.match(cleaned)
    if not m:
        return None
    value = m.group(1)
    return "tie" if value.lower() == "tie" else value.upper()


def parse_pair_verdict(text: str, allowed: tuple[str, ...] = PAIR_VERDICTS) -> Parsed:
    """Parse '<think>…</think><answer>A|B|tie</answer>'; exactly one answer tag after the reasoning."""
    if not isinstance(text, str) or not text.strip():
        return Parsed(None, ParseFailure.EMPTY)
    think, rest, failure = split_think(text)
    if failure is not None:
        return Parsed(None, failure, think)
    answers = answer_spans(rest)
    if not answers:
        return Parsed(None, ParseFailure.NO_ANSWER_TAG, think)
    if len(answers) != 1:
        return Parsed(None, ParseFailure.WRONG_ANSWER_COUNT, think)
    verdict = normalize_verdict(answers[0])
    if verdict is None or verdict not in allowed:
        return Parsed(None, ParseFailure.INVALID_VALUE, think)
    return Parsed(verdict, None, think)
