"""TextVQA and OK-VQA adapters: hand-written rows in the release layouts, the minis through the same
adapters, bad rows named by file and row, and the VQA score of correct answers on the minis."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from flexjudge.benchmarks.base import Source, load_benchmark
from flexjudge.benchmarks.synthetic.vqa import build_okvqa, build_textvqa
from flexjudge.benchmarks.vqa import OKVQA, TEXTVQA
from flexjudge.core.io import DataError
from flexjudge.data.media import MissingMedia
from flexjudge.protocol.vqa import mean_vqa_accuracy

TEXT_ROWS = [  # (question_id, image_id, question, answers): gold written by hand
    (
        34602,
        "0054c91397f2fe05",
        "what is the brand of this camera?",
        ["nous les gosses"] * 4 + ["dakota"] * 6,
    ),
    (34603, "005635e119b9f32f", "what does the small white text spell?", ["copenhagen"] * 10),
    (
        34604,
        "005635e119b9f32f",
        "what kind of beer is this?",
        ["ale"] * 7 + ["sublimely self-righteous ale"] * 3,
    ),
    (34605, "00685bc495504d61", "what are the letters on the plane?", ["ob-ofy"] * 9 + ["obofy"]),
    (34606, "00685bc495504d61", "what number is on the tail?", ["2"] * 5 + ["two"] * 5),
]


def _source(path: Path, root: Path, on_missing: str = "error") -> Source:
    return Source(path=path, media_root=root, cache=root / ".cache", on_missing=on_missing)


def _textvqa_release(root: Path, rows=TEXT_ROWS, skip_image: str | None = None) -> Path:
    for _, image_id, _, _ in rows:
        if image_id != skip_image:
            (root / "train_images").mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (8, 8)).save(root / "train_images" / f"{image_id}.jpg")
    data = [
        {
            "question": q,
            "image_id": i,
            "image_classes": ["Camera"],
            "answers": a,
            "question_id": qid,
            "set_name": "val",
        }
        for qid, i, q, a in rows
    ]
    path = root / "TextVQA_0.5.1_val.json"
    path.write_text(json.dumps({"dataset_type": "val", "dataset_version": "0.5.1", "data": data}))
    return path


def test_textvqa_rows_in_the_release_layout(tmp_path):
    loaded = load_benchmark(TEXTVQA, _source(_textvqa_release(tmp_path), tmp_path))
    assert [i.id for i in loaded.items] == [str(r[0]) for r in TEXT_ROWS]
    item = loaded.items[3]
    assert item.question == "what are the letters on the plane?" and item.answers[-1] == "obofy"
    assert item.media[0]["path"].endswith("train_images/00685bc495504d61.jpg")
    # the scorer on these rows: the majority answer, a minority answer, and a number word
    predictions = ["dakota", "Copenhagen.", "the ale", "ob-ofy", "two"]
    assert mean_vqa_accuracy(predictions, [i.answers for i in loaded.items]) == pytest.approx(
        (1 + 1 + 1 + 1 + 1) / 5
    )
    assert mean_vqa_accuracy(
        ["nous les gosses"] + [None] * 4, [i.answers for i in loaded.items]
    ) == pytest.approx(1 / 5)


def test_textvqa_bad_rows_name_the_file_and_row(tmp_path):
    bad = [*TEXT_ROWS[:2], (34610, "00685bc495504d61", "what?", [])]
    with pytest.raises(
        DataError, match=r"TextVQA_0.5.1_val.json: data\[2\]: 'answers' must be a non-empty list"
    ):
        load_benchmark(TEXTVQA, _source(_textvqa_release(tmp_path, bad), tmp_path))
    path = _textvqa_release(tmp_path / "m", skip_image="005635e119b9f32f")
    with pytest.raises(MissingMedia, match=r"data\[1\]"):
        load_benchmark(TEXTVQA, _source(path, tmp_path / "m"))
    skipped = load_benchmark(TEXTVQA, _source(path, tmp_path / "m", on_missing="skip"))
    assert len(skipped.items) == 3 and skipped.skipped == 2  # counted, not dropped silently
    (tmp_path / "broken.json").write_text('{"data": [\n  {"question": }\n]}')
    with pytest.raises(DataError, match=r"broken.json:2: not valid JSON"):
        load_benchmark(TEXTVQA, _source(tmp_path / "broken.json", tmp_path))


def _okvqa_release(root: Path, n: int = 5, drop_annotation: bool = False) -> None:
    facts = [
        ("What is the man riding?", "horse"),
        ("What season is it?", "winter"),
        ("What sport is this?", "tennis"),
        ("What is this animal?", "giraffe"),
        ("What food is this?", "pizza"),
    ]
    questions, annotations = [], []
    for i, (question, answer) in enumerate(facts[:n]):
        image_id = 297147 + i
        (root / "val2014").mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8)).save(root / "val2014" / f"COCO_val2014_{image_id:012d}.jpg")
        questions.append({"image_id": image_id, "question": question, "question_id": image_id * 10 + 5})
        answers = [
            {"answer_id": j + 1, "raw_answer": answer, "answer_confidence": "yes", "answer": answer}
            for j in range(10)
        ]
        annotations.append(
            {
                "image_id": image_id,
                "question_id": image_id * 10 + 5,
                "answers": answers,
                "answer_type": "other",
            }
        )
    if drop_annotation:
        annotations.pop(2)
    (root / "OpenEnded_mscoco_val2014_questions.json").write_text(json.dumps({"questions": questions}))
    (root / "mscoco_val2014_annotations.json").write_text(json.dumps({"annotations": annotations}))


def test_okvqa_joins_questions_and_annotations(tmp_path):
    _okvqa_release(tmp_path)
    loaded = load_benchmark(OKVQA, _source(tmp_path, tmp_path))
    assert [i.answers[0] for i in loaded.items] == ["horse", "winter", "tennis", "giraffe", "pizza"]
    assert loaded.items[0].id == "2971475" and loaded.items[0].media[0]["path"].endswith(
        "COCO_val2014_000000297147.jpg"
    )
    assert (
        mean_vqa_accuracy(
            ["Horse", "winter.", "tennis", "a giraffe", "pasta"], [i.answers for i in loaded.items]
        )
        == 0.8
    )
    _okvqa_release(tmp_path / "gap", drop_annotation=True)
    with pytest.raises(DataError, match=r"questions.json: questions\[2\]: question_id 2971495 has no entry"):
        load_benchmark(OKVQA, _source(tmp_path / "gap", tmp_path / "gap"))


@pytest.mark.parametrize(
    ("build", "adapter", "folder"),
    [(build_textvqa, TEXTVQA, "TextVQA/TextVQA_0.5.1_val.json"), (build_okvqa, OKVQA, "OK-VQA")],
)
def test_minis_read_through_the_same_adapters_and_score_correct_answers_1(tmp_path, build, adapter, folder):
    record = build(tmp_path, 6, np.random.default_rng(0))
    root = (tmp_path / folder) if adapter is OKVQA else (tmp_path / "TextVQA")
    loaded = load_benchmark(adapter, _source(tmp_path / folder, root))
    assert len(loaded.items) == 6 == sum(record["items"].values())
    gold = [max(set(i.answers), key=i.answers.count) for i in loaded.items]  # the majority answer
    assert mean_vqa_accuracy(gold, [i.answers for i in loaded.items]) == 1.0
    assert mean_vqa_accuracy(["no idea"] * 6, [i.answers for i in loaded.items]) == 0.0
    again = tmp_path / "again"
    build(again, 6, np.random.default_rng(0))
    assert (again / folder).exists()
    first = sorted(p.read_bytes() for p in (tmp_path / folder.split("/")[0]).rglob("*") if p.is_file())
    second = sorted(p.read_bytes() for p in (again / folder.split("/")[0]).rglob("*") if p.is_file())
    assert first == second  # the same seed gives the same bytes
