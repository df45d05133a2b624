"""The paper's open baseline judges, each prompted and parsed in its own published format (issue #18 part 5),
so their rows are computed with the same metrics and parse accounting as ours.

- LLaVA-Critic (Xiong et al. 2024): a pairwise prompt showing "The first response" and "The second
  response", answered by an evaluation whose verdict is a sentence — "Response 1 is better", "Response 2
  is better" or "Two responses are equally good" (`CriticPair`); a pointwise prompt showing "The LMM
  response", answered by an evaluation that ends with "Final Score: <n>" on the benchmark's scale
  (`CriticScore`).
- Prometheus-Vision (Lee et al. 2024): absolute grading of one response against a score rubric with five
  level descriptions, answered by feedback and then "[RESULT] <1-5>" (`PrometheusScore`). Our benchmarks give
  no reference answer, so that section says none is given (a deviation from its training prompts, recorded in
  the format's `deviations`).

The prompt wording is ours; the layout of the inputs and the result markers follow the published formats
(docs/judge_protocol.md, "Baseline judges", with what is not confirmed). Only the marker counts: an output
without it, or with two different verdicts, is a counted parse failure, never a guessed answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from flexjudge.protocol.formats import JudgeFormat, PairVerdict, ScoreScale, SingleScore, _swap_letters
from flexjudge.protocol.parsing import Parsed, ParseFailure, parse_number
from flexjudge.protocol.prompts import media_parts

#: LLaVA-Critic's default system turn (its qwen_1_5 conversation template).
CRITIC_SYSTEM = "You are a helpful assistant."
_CRITIC_VERDICT = re.compile(
    r"\b(?:response|answer)\s*(?P<first>1|2|a|b)\s+is\s+(?:slightly\s+|much\s+|clearly\s+)?better\b"
    r"|\bthe\s+better\s+response\s*(?:is\s*)?[:\[]\s*\[?(?P<named>1|2|a|b|first|second)\]?(?!\w)"
    r"|\b(?:two|both)\s+responses\s+are\s+equally\s+(?:good|bad|acceptable|poor)\b",
    re.IGNORECASE,
)
_FIRST = {"1": "A", "a": "A", "first": "A", "2": "B", "b": "B", "second": "B"}
_FINAL_SCORE = re.compile(r"final\s+score\s*:\s*\**\s*([0-9]+(?:\.[0-9]+)?(?:\s*/\s*[0-9]+)?)", re.IGNORECASE)
_RESULT = "[RESULT]"


def _user(media, text: str):
    parts = [*media_parts(media), {"type": "text", "text": text}]
    return parts[0]["text"] if len(parts) == 1 else parts


def _with_answer_media(text_before: str, answers: Sequence[str], answer_media, labels: Sequence[str]):
    """Text parts with each answer's own media right after its label (as our judge prompts place them)."""
    parts: list[dict[str, Any]] = [{"type": "text", "text": text_before}]
    own = list(answer_media or [()] * len(answers))
    for label, answer, extra in zip(labels, answers, own, strict=True):
        parts.append({"type": "text", "text": f"\n{label}: "})
        parts += media_parts(extra)
        parts.append({"type": "text", "text": f"[{answer.strip()}]"})
    return parts


def _merge(parts: list[dict[str, Any]]):
    merged: list[dict[str, Any]] = []
    for part in parts:
        if part["type"] == "text" and merged and merged[-1]["type"] == "text":
            merged[-1] = {"type": "text", "text": merged[-1]["text"] + part["text"]}
        else:
            merged.append(part)
    return merged[0]["text"] if len(merged) == 1 else merged


class CriticPair(PairVerdict):
    """LLaVA-Critic's pairwise judgement: a verdict sentence about "Response 1" / "Response 2" (or equal)."""

    name = "critic_pair"
    n_answers = 2
    thinks = False

    def __init__(self, allow_tie: bool = True):
        super().__init__(allow_tie)
        self.allow_tie = allow_tie

    def system_prompt(self, n: int) -> str:
        return CRITIC_SYSTEM

    def messages(self, question, answers, media=None, hint=None, answer_media=None, reasoning=True):
        if len(answers) != 2:
            raise ValueError(f"format {self.name} judges 2 answers, got {len(answers)}")
        verdicts = '"Response 1 is better", "Response 2 is better"'
        if self.allow_tie:
            verdicts += ', or "Two responses are equally good"'
        intro = (
            "You are an impartial judge. Compare the two responses to the question about the input above: "
            "which is more helpful, accurate and faithful to the input? Explain your evaluation, then state "
            f"your verdict in one sentence: {verdicts}."
            f"\nQuestion: [{question.strip()}]"
        )
        parts = [
            *media_parts(media),
            *_with_answer_media(intro, answers, answer_media, ("The first response", "The second response")),
        ]
        return [{"role": "system", "content": CRITIC_SYSTEM}, {"role": "user", "content": _merge(parts)}]

    def parse(self, text: str, n: int = 2) -> Parsed:
        if not text.strip():
            return Parsed(None, ParseFailure.EMPTY)
        found = []
        for m in _CRITIC_VERDICT.finditer(text):
            first = m.group("first") or m.group("named")
            found.append(_FIRST[first.lower()] if first else "tie")
        if not found:
            return Parsed(None, ParseFailure.NO_MARKER)
        if len(set(found)) > 1:
            return Parsed(None, ParseFailure.CONFLICTING)
        if found[0] == "tie" and not self.allow_tie:
            return Parsed(None, ParseFailure.TIE_NOT_ALLOWED)
        return Parsed(found[0], None, text.strip())

    def render(self, value: str) -> str:
        return {
            "A": "Response 1 is better.",
            "B": "Response 2 is better.",
            "tie": "Two responses are equally good.",
        }[value]

    def to_original(self, value, order):
        return value if value in (None, "tie") else _swap_letters(value, order, inverse=True)

    def to_shown(self, value, order):
        return value if value in (None, "tie") else _swap_letters(value, order, inverse=False)


class CriticScore(SingleScore):
    """LLaVA-Critic's pointwise judgement: an evaluation ending "Final Score: <n>" on the benchmark's scale."""

    name = "critic_score"
    n_answers = 1
    thinks = False

    def __init__(self, scale: ScoreScale | None = None):
        super().__init__(scale or ScoreScale(1, 5))

    def system_prompt(self, n: int) -> str:
        return CRITIC_SYSTEM

    def messages(self, question, answers, media=None, hint=None, answer_media=None, reasoning=True):
        if len(answers) != 1:
            raise ValueError(f"format {self.name} judges 1 answer, got {len(answers)}")
        step = " in steps of 0.1" if self.scale.decimals == 1 else " as a whole number"
        intro = (
            "You are an impartial judge. Evaluate the response to the question about the input above: how "
            "helpful, accurate and faithful to the input is it? Explain your evaluation, then end with "
            f'"Final Score: <score>", a score from {self.scale}{step}.\nQuestion: [{question.strip()}]'
        )
        parts = [
            *media_parts(media),
            *_with_answer_media(intro, answers, answer_media, ("The LMM response",)),
        ]
        return [{"role": "system", "content": CRITIC_SYSTEM}, {"role": "user", "content": _merge(parts)}]

    def parse(self, text: str, n: int = 1) -> Parsed:
        if not text.strip():
            return Parsed(None, ParseFailure.EMPTY)
        found = _FINAL_SCORE.findall(text)
        if not found:
            return Parsed(None, ParseFailure.NO_MARKER)
        value = parse_number(found[-1], self.scale.low, self.scale.high, self.scale.decimals)
        if isinstance(value, ParseFailure):
            return Parsed(None, value)
        return Parsed(value, None, text.strip())

    def render(self, value: float) -> str:
        return f"Final Score: {self.scale.format(value)}"


#: Prometheus-Vision's five rubric levels for a response to an instruction about an image (our wording).
RUBRIC = (
    "Does the response answer the instruction correctly and helpfully, faithful to what the input shows?",
    (
        "The response ignores the instruction or contradicts the input.",
        "The response addresses the instruction but is mostly wrong about the input.",
        "The response is partly right, with notable errors or omissions.",
        "The response is right and helpful, with minor flaws.",
        "The response is fully right, complete and faithful to the input.",
    ),
)


class PrometheusScore(SingleScore):
    """Prometheus-Vision's absolute grading: feedback on one response against a 1-5 rubric, then
    "[RESULT] <1-5>"; the benchmark's score scale is kept for its metrics (correlations do not change)."""

    name = "prometheus"
    n_answers = 1
    thinks = False
    deviations = ("no reference answer: the benchmarks give none, so the prompt says so",)

    def __init__(self, scale: ScoreScale | None = None):
        super().__init__(ScoreScale(1, 5))  # the rubric's levels: a score outside them is a failure
        self.benchmark_scale = scale or self.scale

    def system_prompt(self, n: int) -> str:
        return ""

    def messages(self, question, answers, media=None, hint=None, answer_media=None, reasoning=True):
        if len(answers) != 1:
            raise ValueError(f"format {self.name} judges 1 answer, got {len(answers)}")
        criterion, levels = RUBRIC
        head = (
            "###Task Description:\nYou are given an instruction about the input above, a response to evaluate, "
            "a reference answer that would get a score of 5, and a score rubric. 1. Write feedback that "
            "assesses the response strictly by the rubric, not in general. 2. Then give a score, an integer "
            'from 1 to 5, by the rubric. 3. Answer as: "Feedback: (your feedback) [RESULT] (an integer '
            'between 1 and 5)". 4. Write nothing before or after.\n\n'
            f"###The instruction to evaluate:\n{question.strip()}\n\n###Response to evaluate:\n"
        )
        rubric = "".join(f"\nScore {i}: {d}" for i, d in enumerate(levels, 1))
        tail = (
            f"\n\n###Reference Answer (Score 5):\n(no reference answer is given)\n\n###Score Rubrics:\n"
            f"[{criterion}]{rubric}\n\n###Feedback:"
        )
        own = list(answer_media or [()])
        parts = [
            *media_parts(media),
            {"type": "text", "text": head},
            *media_parts(own[0]),
            {"type": "text", "text": answers[0].strip() + tail},
        ]
        return [{"role": "user", "content": _merge(parts)}]

    def parse(self, text: str, n: int = 1) -> Parsed:
        if not text.strip():
            return Parsed(None, ParseFailure.EMPTY)
        if _RESULT not in text:
            return Parsed(None, ParseFailure.NO_MARKER)
        after = text.split(_RESULT, 1)[1].strip()
        head = after.split()[0] if after else ""
        value = parse_number(head, 1, 5, 0)
        if isinstance(value, ParseFailure):
            return Parsed(None, value)
        return Parsed(value, None, text.split(_RESULT, 1)[0].strip())

    def render(self, value: float) -> str:
        return f"Feedback: (feedback) {_RESULT} {int(value)}"


#: {baseline: {benchmark format: the baseline's own format}}: how a baseline judges each kind of benchmark
#: (backbone.baseline in conf/backbone/). Prometheus-Vision grades one response at a time, so pairwise
#: benchmarks are not judged by it here (refused by name).
BASELINE_FORMATS = {
    "llava_critic": {"pair_scores": CriticPair, "pair_verdict": CriticPair, "score": CriticScore},
    "prometheus_vision": {"score": PrometheusScore},
}


def baseline_format(
    baseline: str, benchmark_format: str, scale: ScoreScale | None, allow_tie: bool
) -> JudgeFormat:
    """The format a baseline judge answers a benchmark of `benchmark_format` in; a clear error where it has none."""
    if baseline not in BASELINE_FORMATS:
        raise ValueError(f"backbone.baseline={baseline!r}: choose from {sorted(BASELINE_FORMATS)} or null")
    own = BASELINE_FORMATS[baseline].get(benchmark_format)
    if own is None:
        raise ValueError(
            f"the {baseline} judge has no published format for {benchmark_format} benchmarks "
            f"(it judges {sorted(BASELINE_FORMATS[baseline])})"
        )
    if own is CriticPair:
        return CriticPair(allow_tie)
    return own(scale) if scale is not None else own()
