"""Answering benchmarks for the VQA retention check (issue #18, the paper's Table 11): TextVQA and OK-VQA.

These are not judge benchmarks: an item is a question about an image and the answers of 10 annotators,
scored by `flexjudge.protocol.vqa`. They are read through the same `load_benchmark` as the judge
benchmarks, so errors name the file and row, missing images follow `on_missing`, and `limit` applies.
The release layouts, and which points of them are unconfirmed, are in docs/benchmarks.md ("VQA
retention benchmarks").
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flexjudge.benchmarks.base import Adapter, Source, need, sequence
from flexjudge.core.io import DataError, read_json


@dataclass(frozen=True)
class VQAItem:
    """One question about an image and its annotators' answers (as released: already normalized)."""

    id: str
    question: str
    media: tuple[dict[str, Any], ...]
    answers: tuple[str, ...]


def _json_object(path: Path) -> dict[str, Any]:
    """A file holding one JSON object (`read_json` names the line of a syntax error)."""
    data = read_json(path)
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def _listed(data: dict[str, Any], key: str, path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(file: key[i], row) for the list under `key`."""
    rows = data.get(key)
    if not isinstance(rows, list):
        raise DataError(f"{path}: expected a list under {key!r} (keys: {sorted(data)})")
    for i, row in enumerate(rows):
        where = f"{path}: {key}[{i}]"
        if not isinstance(row, dict):
            raise DataError(f"{where}: expected a JSON object, got {type(row).__name__}")
        yield where, row


def _answers(values: list[Any], where: str) -> tuple[str, ...]:
    if not values or not all(isinstance(a, str) for a in values):
        raise DataError(f"{where}: 'answers' must be a non-empty list of strings (got {values!r:.80})")
    return tuple(values)


def _question_id(row: dict[str, Any], where: str) -> str:
    qid = need(row, "question_id", (int, str), where)
    if isinstance(qid, bool):
        raise DataError(f"{where}: field 'question_id' must be an integer or a string, got {qid!r}")
    return str(qid)


# -- TextVQA 0.5.1 --------------------------------------------------------------------------------


def _textvqa_rows(source: Source, options: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    yield from _listed(_json_object(source.path), "data", source.path)


def _textvqa_item(row: dict[str, Any], where: str, source: Source, options: dict[str, Any]) -> VQAItem:
    image_id = need(row, "image_id", str, where)
    image = source.media("image", f"{options.get('image_dir', 'train_images')}/{image_id}.jpg", where)
    return VQAItem(
        id=_question_id(row, where),
        question=need(row, "question", str, where),
        media=(image,),
        answers=_answers(sequence(row, "answers", where), where),
    )


TEXTVQA = Adapter(
    rows=_textvqa_rows,
    item=_textvqa_item,  # type: ignore[arg-type]
    schema="TextVQA 0.5.1 (TextVQA_0.5.1_val.json): {'data': [{question_id, question, image_id, answers[10]}]}, "
    "images <image_dir>/<image_id>.jpg",
)


# -- OK-VQA (the VQA v2 question and annotation files) --------------------------------------------


def _okvqa_rows(source: Source, options: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Questions joined with their annotations by question_id (the path is the folder holding both)."""
    questions = source.path / options.get("questions", "OpenEnded_mscoco_val2014_questions.json")
    annotations = source.path / options.get("annotations", "mscoco_val2014_annotations.json")
    by_id: dict[str, tuple[str, dict[str, Any]]] = {}
    for where, row in _listed(_json_object(annotations), "annotations", annotations):
        qid = _question_id(row, where)
        if qid in by_id:
            raise DataError(f"{where}: question_id {qid} is annotated twice (first at {by_id[qid][0]})")
        by_id[qid] = (where, row)
    for where, row in _listed(_json_object(questions), "questions", questions):
        qid = _question_id(row, where)
        if qid not in by_id:
            raise DataError(f"{where}: question_id {qid} has no entry in {annotations}")
        yield where, {**row, "_annotation": by_id[qid]}


def _okvqa_item(row: dict[str, Any], where: str, source: Source, options: dict[str, Any]) -> VQAItem:
    ann_where, ann = row["_annotation"]
    image_id = need(row, "image_id", int, where)
    if need(ann, "image_id", int, ann_where) != image_id:
        raise DataError(
            f"{ann_where}: image_id {ann['image_id']} differs from the question's ({where}: {image_id})"
        )
    answers = []
    for i, entry in enumerate(sequence(ann, "answers", ann_where)):
        if not isinstance(entry, dict):
            raise DataError(f"{ann_where}: answers[{i}] must be an object with an 'answer' field")
        answers.append(need(entry, "answer", str, f"{ann_where}: answers[{i}]"))
    prefix = options.get("image_prefix", "COCO_val2014_")
    relative = f"{options.get('image_dir', 'val2014')}/{prefix}{image_id:012d}.jpg"
    return VQAItem(
        id=_question_id(row, where),
        question=need(row, "question", str, where),
        media=(source.media("image", relative, where),),
        answers=_answers(answers, ann_where),
    )


OKVQA = Adapter(
    rows=_okvqa_rows,
    item=_okvqa_item,  # type: ignore[arg-type]
    schema="OK-VQA (VQA v2 layout): OpenEnded_mscoco_val2014_questions.json {'questions': [{question_id, image_id, "
    "question}]} + mscoco_val2014_annotations.json {'annotations': [{question_id, image_id, answers[{answer}]}]}, "
    "images val2014/COCO_val2014_<image_id:012d>.jpg",
)

#: {dataset: (adapter, its path under a benchmark root laid out as the releases are: the file for TextVQA,
#: the folder of both files for OK-VQA)}: the retention stage's `dataset` options and what the workflow reads.
VQA_DATASETS: dict[str, tuple[Adapter, str]] = {
    "textvqa": (TEXTVQA, "TextVQA/TextVQA_0.5.1_val.json"),
    "okvqa": (OKVQA, "OK-VQA"),
}
