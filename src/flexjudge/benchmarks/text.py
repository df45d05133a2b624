"""Adapters for the text judge benchmarks: JudgeLM's validation set, PandaLM's test set and the
held-out hh-rlhf pairs written by the curate stage.

JudgeLM (`BAAI/JudgeLM-100K`): judgelm_val_5k.jsonl holds question_id, question_body, answer1_body,
answer2_body; the gold is GPT-4's pair of 1–10 scores in judgelm_val_5k_gpt4.jsonl (`score`, or the
first line of `text`), matched by question_id. PandaLM (`WeOpenML/PandaLM` data/testset-v1.json, a
JSON list with bare NaN for an empty input): instruction, input, response1, response2, annotator1..3
with 0 = tie, 1 = response1 better, 2 = response2 better; the gold is their majority.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from flexjudge.benchmarks.base import Adapter, Source, json_list_rows, jsonl_rows, majority, need, number
from flexjudge.core.io import DataError
from flexjudge.data.schemas import JudgeItem, PairItem

# -- JudgeLM val ---------------------------------------------------------------------------------


def verdict_from_scores(s1: float, s2: float) -> str:
    """A/B/tie from a pair of scores (equal scores are a tie)."""
    return "A" if s1 > s2 else "B" if s2 > s1 else "tie"


def _gpt4_scores(row: dict[str, Any], where: str) -> tuple[float, float] | None:
    score = row.get("score")
    if isinstance(score, list) and len(score) == 2:
        pair = (float(score[0]), float(score[1]))
    else:
        first = need(row, "text", str, where).strip().split("\n", 1)[0].split()
        try:
            pair = (float(first[0]), float(first[1]))
        except (IndexError, ValueError):
            raise DataError(
                f"{where}: GPT-4 judgement has no `score` pair and its text does not start with two scores"
            ) from None
    return None if pair == (-1.0, -1.0) else pair  # JudgeLM marks failed judgements -1 -1


def _judgelm_rows(source: Source, options: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    folder = source.path if source.path.is_dir() else source.path.parent
    questions = folder / options.get("questions", "judgelm_val_5k.jsonl")
    judgements = folder / options.get("judgements", "judgelm_val_5k_gpt4.jsonl")
    gold: dict[Any, tuple[tuple[float, float] | None, str]] = {}
    for where, row in jsonl_rows(judgements):
        gold[need(row, "question_id", (int, str), where)] = (_gpt4_scores(row, where), where)
    for where, row in jsonl_rows(questions):
        qid = need(row, "question_id", (int, str), where)
        if qid not in gold:
            raise DataError(f"{where}: question_id {qid!r} has no GPT-4 judgement in {judgements}")
        yield where, {**row, "_gold": gold[qid][0]}


def _judgelm_item(
    row: dict[str, Any], where: str, source: Source, options: dict[str, Any]
) -> JudgeItem | None:
    scores = row["_gold"]
    if scores is None:
        return None  # JudgeLM's own evaluation drops pairs GPT-4 failed to score
    return JudgeItem(
        f"judgelm-{row['question_id']}",
        need(row, "question_body", str, where),
        (need(row, "answer1_body", str, where), need(row, "answer2_body", str, where)),
        verdict_from_scores(*scores),
        source=where,
    )


JUDGELM_VAL = Adapter(
    _judgelm_rows,
    _judgelm_item,
    "JudgeLM judgelm_val_5k.jsonl (question_id, question_body, answer1_body, answer2_body) + "
    "judgelm_val_5k_gpt4.jsonl (question_id, score [s1, s2] / text 's1 s2\\n...')",
)

# -- PandaLM -------------------------------------------------------------------------------------

PANDALM_GOLD = {0: "tie", 1: "A", 2: "B"}


def _pandalm_item(row: dict[str, Any], where: str, source: Source, options: dict[str, Any]) -> JudgeItem:
    labels = []
    for name in ("annotator1", "annotator2", "annotator3"):
        value = int(number(row, name, where))
        if value not in PANDALM_GOLD:
            raise DataError(f"{where}: {name} must be 0 (tie), 1 or 2, got {value}")
        labels.append(value)
    instruction = need(row, "instruction", str, where)
    extra = row.get("input")
    if isinstance(extra, str) and extra.strip():
        instruction = f"{instruction}\n\n{extra.strip()}"
    elif (
        extra is not None
        and not (isinstance(extra, float) and math.isnan(extra))
        and not isinstance(extra, str)
    ):
        raise DataError(f"{where}: field 'input' must be text or empty, got {extra!r:.40}")
    return JudgeItem(
        f"pandalm-{row.get('idx', where)}",
        instruction,
        (need(row, "response1", str, where), need(row, "response2", str, where)),
        PANDALM_GOLD[majority(labels)],
        str(row.get("motivation_app", "")),
        source=where,
    )


PANDALM = Adapter(
    lambda source, options: json_list_rows(
        source.path / "testset-v1.json" if source.path.is_dir() else source.path
    ),
    _pandalm_item,
    "PandaLM data/testset-v1.json (a JSON list): instruction, input, response1, response2, annotator1-3 "
    "(0 tie, 1 response1, 2 response2)",
)

# -- held-out hh-rlhf pairs ----------------------------------------------------------------------


def _hh_item(row: dict[str, Any], where: str, source: Source, options: dict[str, Any]) -> JudgeItem:
    item = PairItem.from_row(row, where).as_judge_item()
    return JudgeItem(item.id, item.question, item.answers, item.gold, source=where)


HH_HELDOUT = Adapter(
    lambda source, options: jsonl_rows(source.path),
    _hh_item,
    "curate stage heldout.jsonl: id, question, chosen, rejected, source",
)
