"""Parse judge output. Never raises on model text: returns a value or a typed failure reason."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

from flexjudge.protocol.prompts import ANSWER_CLOSE, ANSWER_OPEN, PAIR_VERDICTS, THINK_CLOSE, THINK_OPEN


class ParseFailure(str, Enum):
    """Why an output has no usable answer (reported as counts; never turned into an answer)."""

    EMPTY = "empty"
    UNCLOSED_THINK = "unclosed_think"
    NO_ANSWER_TAG = "no_answer_tag"
    WRONG_ANSWER_COUNT = "wrong_answer_count"
    INVALID_VALUE = "invalid_value"
    OUT_OF_RANGE = "out_of_range"
    WRONG_PRECISION = "wrong_precision"
    TIE_NOT_ALLOWED = "tie_not_allowed"
    NO_MARKER = "no_marker"  # a baseline judge's own result marker ([RESULT], a verdict sentence) is missing
    CONFLICTING = "conflicting_verdicts"  # a baseline judge states more than one different verdict


@dataclass(frozen=True)
class Parsed:
    """A parsed output: `value` is set iff `failure` is None; `think` is the reasoning text found."""

    value: Any
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


def parse_answers(text: str, n: int, convert: Callable[[str], Any]) -> Parsed:
    """Parse reasoning then exactly `n` answer tags; `convert` maps each tag's text to a value or a failure.

    A single value is returned as is, several as a tuple. Never raises on model text.
    """
    if not isinstance(text, str) or not text.strip():
        return Parsed(None, ParseFailure.EMPTY)
    think, rest, failure = split_think(text)
    if failure is not None:
        return Parsed(None, failure, think)
    answers = answer_spans(rest)
    if not answers:
        return Parsed(None, ParseFailure.NO_ANSWER_TAG, think)
    if len(answers) != n:
        return Parsed(None, ParseFailure.WRONG_ANSWER_COUNT, think)
    values = []
    for raw in answers:
        value = convert(raw)
        if isinstance(value, ParseFailure):
            return Parsed(None, value, think)
        values.append(value)
    return Parsed(values[0] if n == 1 else tuple(values), None, think)


def parse_pair_verdict(text: str, allowed: tuple[str, ...] = PAIR_VERDICTS) -> Parsed:
    """Parse '<think>…</think><answer>A|B|tie</answer>'; exactly one answer tag after the reasoning."""

    def convert(raw: str) -> str | ParseFailure:
        verdict = normalize_verdict(raw)
        if verdict is None or verdict not in allowed:
            return ParseFailure.TIE_NOT_ALLOWED if verdict == "tie" else ParseFailure.INVALID_VALUE
        return verdict

    return parse_answers(text, 1, convert)


_NUMBER_RE = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$")


def parse_number(raw: str, low: float, high: float, decimals: int) -> float | ParseFailure:
    """A score in [low, high] with at most `decimals` decimals ('4', '3.5', '7/10' → 7); else a failure."""
    cleaned = raw.strip().strip("[](){}\"'*` ").strip()
    if "/" in cleaned:  # "7/10": keep the numerator when the denominator is the scale's top
        num, _, den = cleaned.partition("/")
        if _NUMBER_RE.match(den.strip()) is None or float(den) != high:
            return ParseFailure.INVALID_VALUE
        cleaned = num.strip()
    cleaned = cleaned.rstrip(".")
    if not _NUMBER_RE.match(cleaned):
        return ParseFailure.INVALID_VALUE
    try:
        number = Decimal(cleaned)
    except InvalidOperation:
        return ParseFailure.INVALID_VALUE
    if not low <= number <= high:
        return ParseFailure.OUT_OF_RANGE
    if -number.normalize().as_tuple().exponent > decimals:
        return ParseFailure.WRONG_PRECISION
    return float(number)


_VERDICT4_RE = re.compile(
    r"^(?:(?P<first>[ab])\s*>\s*(?P<second>[ab])|(?P<tie>tie)?[\s_-]*(?:\(?\s*(?:both\s+)?(?P<kind>good|bad)\s*\)?))$",
    re.IGNORECASE,
)


def normalize_verdict4(raw: str) -> str | None:
    """Map 'A>B', 'b > a', 'tie_good', 'Tie (both bad)', 'both good' … to A>B/B>A/tie_good/tie_bad; else None."""
    cleaned = raw.strip().strip("[]\"'*.:` ").strip()
    m = _VERDICT4_RE.match(cleaned)
    if not m:
        return None
    if m.group("first"):
        first, second = m.group("first").upper(), m.group("second").upper()
        return f"{first}>{second}" if first != second else None
    if not m.group("tie") and "both" not in cleaned.lower():  # a bare 'good' is not a verdict
        return None
    return "tie_" + m.group("kind").lower()
