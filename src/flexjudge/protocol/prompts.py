"""Judge prompts (reasoning first in <think>, verdict in <answer>), as chat messages with media parts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
ANSWER_OPEN, ANSWER_CLOSE = "<answer>", "</answer>"
#: Text that opens the assistant turn when generation is started inside the reasoning section.
THINK_PREFILL = THINK_OPEN + "\n"

PAIR_VERDICTS = ("A", "B", "tie")

#: The hint a rationale is written under (the sample stage): the gold scores, which the reasoning must explain.
SCORE_HINT = (
    "A careful reviewer has already scored the replies: A {a}, B {b}. Explain step by step what makes "
    "these scores right, reply A first, without mentioning the reviewer."
)

PAIR_SYSTEM = (
    "You are an impartial judge of AI assistant replies. You will see a conversation and two candidate "
    "replies to its last user turn, labelled A and B. First think it through step by step between "
    f"{THINK_OPEN} and {THINK_CLOSE}: weigh how helpful, honest and harmless each reply is, and do not "
    "let the order or the length of the replies sway you. Then give your verdict between "
    f"{ANSWER_OPEN} and {ANSWER_CLOSE}: A if reply A is better, B if reply B is better, or tie if "
    "neither is better."
)


def media_parts(media: Sequence[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Placeholder parts for images/videos/audio/molecules; the chat template turns them into special tokens."""
    parts = []
    for item in media or ():
        kind = item.get("type")
        if kind not in ("image", "video", "audio", "molecule"):
            raise ValueError(f"media item {item!r}: type must be image, video, audio or molecule")
        parts.append(dict(item))
    return parts


def answer_letters(n: int) -> str:
    """Labels of n answers as shown: A, B, C, …"""
    if not 1 <= n <= 26:
        raise ValueError(f"{n} answers: between 1 and 26 can be labelled")
    return "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[:n]


def judge_messages(
    system: str,
    question: str,
    answers: Sequence[str],
    *,
    media: Sequence[dict[str, Any]] | None = None,
    answer_media: Sequence[Sequence[dict[str, Any]]] | None = None,
    hint: str | None = None,
) -> list[dict[str, Any]]:
    """System + user messages: the question's media placeholders, the conversation, then each reply
    labelled A, B, … with its own media (if any) right after its label."""
    own = list(answer_media or [()] * len(answers))
    if len(own) != len(answers):
        raise ValueError(f"{len(answers)} answers but media for {len(own)}")
    parts: list[dict[str, Any]] = [
        *media_parts(media),
        {"type": "text", "text": f"[Conversation]\n{question.strip()}"},
    ]
    for letter, answer, extra in zip(answer_letters(len(answers)), answers, own, strict=True):
        parts.append({"type": "text", "text": f"\n\n[Reply {letter}]\n"})
        if extra:
            parts += [*media_parts(extra), {"type": "text", "text": "\n"}]
        parts.append({"type": "text", "text": answer.strip()})
    if hint is not None:
        parts.append({"type": "text", "text": "\n\n" + hint})
    merged: list[dict[str, Any]] = []  # adjacent text parts joined into one
    for part in parts:
        if part["type"] == "text" and merged and merged[-1]["type"] == "text":
            merged[-1] = {"type": "text", "text": merged[-1]["text"] + part["text"]}
        else:
            merged.append(part)
    content: str | list[dict[str, Any]] = merged[0]["text"] if len(merged) == 1 else merged
    return [{"role": "system", "content": system}, {"role": "user", "content": content}]


def answer_tags(values: Sequence[Any]) -> str:
    """One <answer>…</answer> tag per value."""
    return "".join(f"{ANSWER_OPEN}{v}{ANSWER_CLOSE}" for v in values)


def judge_completion(reasoning: str, values: Sequence[Any]) -> str:
    """The assistant text after THINK_PREFILL: reasoning, closing tag, answer tags."""
    return f"{reasoning.strip()}\n{THINK_CLOSE}\n{answer_tags(values)}"


def render_prompt(tokenizer, messages: list[dict], prefill_think: bool) -> str:
    """Chat-template the messages and open the assistant turn (inside <think> when prefill_think)."""
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return text + THINK_PREFILL if prefill_think else text


def generated_with_prefill(text: str, prefill_think: bool) -> str:
    """The assistant's full answer text: the prefilled opening plus what the model generated."""
    return THINK_PREFILL + text if prefill_think else text
