"""VQA answering accuracy as the VQA benchmarks score it (TextVQA and OK-VQA use the VQA v2 scorer).

Issue #18's retention check (the paper's Table 11) asks whether fine-tuning the judge's LLM costs the
backbone its answering. An answer is scored against the 10 annotators' answers after the scorer's
normalization, and its accuracy is the mean, over the 10 ways of leaving one annotator out, of
min(1, matches among the other 9 / 3): three agreeing annotators make an answer fully right.

The normalization follows the published VQA evaluation script's behaviour, documented in
docs/benchmarks.md ("VQA answer normalization"), including two quirks a faithful scorer keeps:
- a period is removed wherever no digit follows it ("3.5" keeps its point, "dog." loses it): the
  script's pattern meant to spare decimals only looks ahead;
- the prediction is always normalized in full; the annotators' answers (normalized when the datasets
  were built) only have their punctuation processed, and only when they disagree among themselves.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from flexjudge.protocol.prompts import ANSWER_CLOSE, ANSWER_OPEN, media_parts

#: What the answering prompt asks after the question (the benchmarks score short answers).
ANSWER_INSTRUCTION = "Reply with the answer only: one word or a short phrase."

#: Punctuation the scorer removes (next to a space, or anywhere in a text with a digit-comma-digit) or turns into a space.
PUNCTUATION = (
    ";",
    "/",
    "[",
    "]",
    '"',
    "{",
    "}",
    "(",
    ")",
    "=",
    "+",
    "\\",
    "_",
    "-",
    ">",
    "<",
    "@",
    "`",
    ",",
    "?",
    "!",
)
NUMBER_WORDS = {
    "none": "0",
    "zero": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
}
ARTICLES = frozenset({"a", "an", "the"})
#: Contractions written without their apostrophe, as annotators type them, and the form the scorer compares.
CONTRACTIONS = {
    "aint": "ain't",
    "arent": "aren't",
    "cant": "can't",
    "couldve": "could've",
    "couldnt": "couldn't",
    "didnt": "didn't",
    "doesnt": "doesn't",
    "dont": "don't",
    "hadnt": "hadn't",
    "hasnt": "hasn't",
    "havent": "haven't",
    "hed": "he'd",
    "hes": "he's",
    "howd": "how'd",
    "howll": "how'll",
    "hows": "how's",
    "im": "i'm",
    "ive": "i've",
    "isnt": "isn't",
    "itd": "it'd",
    "itll": "it'll",
    "lets": "let's",
    "mightve": "might've",
    "mustve": "must've",
    "shant": "shan't",
    "shouldve": "should've",
    "shouldnt": "shouldn't",
    "thats": "that's",
    "thered": "there'd",
    "theres": "there's",
    "theyd": "they'd",
    "theyll": "they'll",
    "theyre": "they're",
    "theyve": "they've",
    "wasnt": "wasn't",
    "weve": "we've",
    "werent": "weren't",
    "whatll": "what'll",
    "whatre": "what're",
    "whats": "what's",
    "whatve": "what've",
    "whens": "when's",
    "whered": "where'd",
    "wheres": "where's",
    "whove": "who've",
    "whod": "who'd",
    "wholl": "who'll",
    "whos": "who's",
    "whyll": "why'll",
    "whyre": "why're",
    "whys": "why's",
    "wont": "won't",
    "wouldve": "would've",
    "wouldnt": "wouldn't",
    "yall": "y'all",
    "youd": "you'd",
    "youll": "you'll",
    "youre": "you're",
    "youve": "you've",
}
_DIGIT_COMMA_DIGIT = re.compile(r"(\d)(,)(\d)")
_PERIOD_NOT_BEFORE_DIGIT = re.compile(r"\.(?!\d)")


def process_punctuation(text: str) -> str:
    """Drop each punctuation mark that touches a space (or all of them when a digit-comma-digit occurs),
    turn the others into spaces, then remove every period that no digit follows."""
    out = text
    numeric_comma = _DIGIT_COMMA_DIGIT.search(text) is not None
    for mark in PUNCTUATION:
        if numeric_comma or f"{mark} " in text or f" {mark}" in text:
            out = out.replace(mark, "")
        else:
            out = out.replace(mark, " ")
    return _PERIOD_NOT_BEFORE_DIGIT.sub("", out)


def process_digits_and_articles(text: str) -> str:
    """Lower-case, number words to digits, articles dropped, apostrophe-less contractions restored."""
    words = [NUMBER_WORDS.get(w, w) for w in text.lower().split() if w not in ARTICLES]
    return " ".join(CONTRACTIONS.get(w, w) for w in words)


def _clean(text: str) -> str:
    return text.replace("\n", " ").replace("\t", " ").strip()


def normalize_answer(text: str) -> str:
    """A prediction as the scorer compares it."""
    return process_digits_and_articles(process_punctuation(_clean(text)))


def vqa_accuracy(prediction: str, answers: Sequence[str]) -> float:
    """One prediction's soft accuracy against the annotators' answers (10 in VQA, TextVQA and OK-VQA).

    Every answer string is whitespace-cleaned; the prediction is normalized in full (`normalize_answer`);
    the annotators' answers go through the punctuation step only when they are not all the same.
    """
    if not answers:
        raise ValueError("vqa_accuracy: an item needs at least one annotator answer")
    gold = [_clean(a) for a in answers]
    if len(set(gold)) > 1:
        gold = [process_punctuation(a) for a in gold]
    pred = normalize_answer(prediction)
    scores = []
    for i in range(len(gold)):
        others = gold[:i] + gold[i + 1 :]
        scores.append(min(1.0, sum(a == pred for a in others) / 3.0))
    return sum(scores) / len(scores)


def vqa_scores(predictions: Sequence[str | None], answers: Sequence[Sequence[str]]) -> list[float]:
    """Each item's soft accuracy; an item with no parsed prediction (None) scores 0."""
    if len(predictions) != len(answers):
        raise ValueError(f"{len(predictions)} predictions for {len(answers)} items")
    return [0.0 if p is None else vqa_accuracy(p, a) for p, a in zip(predictions, answers, strict=True)]


def mean_vqa_accuracy(predictions: Sequence[str | None], answers: Sequence[Sequence[str]]) -> float:
    """Mean soft accuracy over items (`vqa_scores`); nan for no items."""
    scores = vqa_scores(predictions, answers)
    return sum(scores) / len(scores) if scores else float("nan")


def answer_messages(question: str, media: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The user turn of one VQA question: its image placeholders, the question, the short-answer request."""
    text = {"type": "text", "text": f"{question.strip()}\n{ANSWER_INSTRUCTION}"}
    return [{"role": "user", "content": [*media_parts(media), text]}]


def parse_answer(text: str) -> tuple[str | None, str | None]:
    """(answer, None) from a model's reply, or (None, reason) when there is none.

    The answer is the content of the first <answer> tag where the reply has one (a fine-tuned judge may
    keep its trained format), else the reply's first non-empty line. An open tag without its close,
    or nothing but whitespace, is no answer: it is counted, not guessed at.
    """
    if ANSWER_OPEN in text:
        start = text.index(ANSWER_OPEN) + len(ANSWER_OPEN)
        end = text.find(ANSWER_CLOSE, start)
        if end < 0:
            return None, "unclosed_answer_tag"
        answer = text[start:end].strip()
        return (answer, None) if answer else (None, "empty_answer_tag")
    for line in text.splitlines():
        if line.strip():
            return line.strip(), None
    return None, "empty"
