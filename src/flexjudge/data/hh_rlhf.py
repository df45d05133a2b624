"""Reader for Anthropic hh-rlhf files: {"chosen": dialogue, "rejected": dialogue} per line."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from flexjudge.core.io import DataError, iter_jsonl
from flexjudge.data.schemas import PairItem

ASSISTANT_TURN = "\n\nAssistant:"


def split_dialogue(dialogue: str) -> tuple[str, str] | None:
    """(conversation before the last assistant turn, last assistant reply), or None if there is none."""
    at = dialogue.rfind(ASSISTANT_TURN)
    if at < 0:
        return None
    return dialogue[:at].strip(), dialogue[at + len(ASSISTANT_TURN) :].strip()


def read_hh_rlhf(
    path: str | Path, *, on_bad_row: str = "error", id_prefix: str = "hh"
) -> tuple[list[PairItem], Counter]:
    """Parse pairs; a row whose two dialogues don't share the context, or whose replies are empty or
    identical, raises DataError naming file:line (`on_bad_row=error`) or is counted and skipped (`skip`)."""
    if on_bad_row not in ("error", "skip"):
        raise ValueError(f"on_bad_row={on_bad_row!r}: expected 'error' or 'skip'")
    items: list[PairItem] = []
    skipped: Counter = Counter()
    for lineno, row in iter_jsonl(path):
        where = f"{path}:{lineno}"
        problem = None
        chosen, rejected = row.get("chosen"), row.get("rejected")
        if not isinstance(chosen, str) or not isinstance(rejected, str):
            problem = "missing_field"
        else:
            a, b = split_dialogue(chosen), split_dialogue(rejected)
            if a is None or b is None:
                problem = "no_assistant_turn"
            elif a[0] != b[0]:
                problem = "context_mismatch"
            elif not a[1] or not b[1]:
                problem = "empty_reply"
            elif a[1] == b[1]:
                problem = "identical_replies"
        if problem:
            if on_bad_row == "error":
                raise DataError(
                    f"{where}: {problem.replace('_', ' ')}; each row needs 'chosen' and 'rejected' "
                    "dialogues sharing the context and differing in the last assistant reply "
                    "(set on_bad_row=skip to count and skip such rows)"
                )
            skipped[problem] += 1
            continue
        items.append(
            PairItem(id=f"{id_prefix}-{lineno:06d}", question=a[0], chosen=a[1], rejected=b[1], source=where)
        )
    return items, skipped
