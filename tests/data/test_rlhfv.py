"""RLHF-V image-text pairs as a training pool (the paper's Table 5 ablation): the release's parquet read
into pool rows with their images, the chosen answer as the gold, bad rows named by file[row] or counted."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from fixtures.benchmarks import png_bytes
from flexjudge.core.io import DataError
from flexjudge.data.pools import read_pool

ROWS = [  # (question, chosen, rejected, image colour); rows 2 and 4 show the same image
    ("Describe the image.", "A red square on white.", "A red circle on white.", (200, 30, 30)),
    ("What is in the picture?", "Two green dots.", "Three green dots.", (30, 160, 60)),
    ("Describe the image.", "A blue sky, no clouds.", "A blue sky with a plane.", (40, 60, 220)),
    ("Is there text?", "No text is visible.", "The word STOP is written.", (30, 160, 60)),
    ("Describe the image in detail.", "A yellow field.", "A yellow field with cows.", (230, 200, 40)),
]


def _release(path, rows, **change):
    records = [
        {
            "ds_name": "RLHF-V",
            "image": {"bytes": png_bytes(colour), "path": f"{i}.png"},
            "text": json.dumps({"question": q, "chosen": c, "rejected": r}),
            "origin_dataset": "VQAv2",
            "origin_split": json.dumps({"model": "muffin", "type": "detailed description"}),
            "idx": 100 + i,
            "image_path": f"coco/{i}.jpg",
        }
        for i, (q, c, r, colour) in enumerate(rows)
    ]
    for i, fields in change.items():
        records[int(i[1:])].update(fields)
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(records).to_parquet(path, index=False)
    return path


def test_rlhfv_rows_become_pool_rows_with_their_images(tmp_path):
    path = _release(tmp_path / "RLHF-V-Dataset.parquet", ROWS)
    rows, skipped = read_pool(path, "rlhfv", media_dir=tmp_path / "pool" / "media")
    assert not skipped and [r.id for r in rows] == [f"rlhfv-{100 + i}" for i in range(5)]
    for row, (question, chosen, rejected, _) in zip(rows, ROWS, strict=True):
        assert row.question == question and set(row.answers) == {chosen, rejected}
        assert row.answers["AB".index(row.preferred)] == chosen  # the human-corrected answer is the gold
        assert row.scores is None and row.source.startswith(f"{path}[")
        (image,) = row.media_parts(tmp_path / "pool")
        assert image["type"] == "image" and (tmp_path / "pool" / row.media[0]["path"]).is_file()
    assert {r.preferred for r in rows} == {"A", "B"}  # a seeded coin, not always A
    assert rows[1].media == rows[3].media and len(list((tmp_path / "pool" / "media").iterdir())) == 4
    again, _ = read_pool(path, "rlhfv", media_dir=tmp_path / "pool" / "media")
    assert again == rows  # deterministic


@pytest.mark.parametrize(
    ("change", "reason", "message"),
    [
        ({"text": "not json"}, "bad_text", r"\[2\]: field 'text' must be a JSON object"),
        (
            {"text": json.dumps({"question": "Q", "chosen": "C"})},
            "missing_field",
            r"\[2\]: field 'rejected' must be text",
        ),
        (
            {"image": {"bytes": b"", "path": "x.png"}},
            "missing_image",
            r"\[2\]: field 'image' holds no image bytes",
        ),
        (
            {"text": json.dumps({"question": "Q", "chosen": "Same.", "rejected": "Same."})},
            "identical_answers",
            r"\[2\]: the chosen and",
        ),
    ],
)
def test_bad_rlhfv_rows_fail_by_row_or_are_counted(tmp_path, change, reason, message):
    path = _release(tmp_path / "r.parquet", ROWS, r2=change)
    with pytest.raises(DataError, match=message):
        read_pool(path, "rlhfv", media_dir=tmp_path / "m")
    rows, skipped = read_pool(path, "rlhfv", on_bad_row="skip", media_dir=tmp_path / "m")
    assert len(rows) == 4 and skipped == {reason: 1}


def test_rows_with_the_same_words_but_other_images_are_not_duplicates(tmp_path):
    """Exact dedup keys on the image too; a repeated idx is a bad row."""
    from flexjudge.data.dedup import drop_exact_duplicates

    same_words = [ROWS[0], (*ROWS[0][:3], (10, 10, 10)), ROWS[0]]  # the third repeats the first's image too
    path = _release(tmp_path / "r.parquet", same_words)
    rows, _ = read_pool(path, "rlhfv", media_dir=tmp_path / "m")
    kept, dropped = drop_exact_duplicates(rows)
    assert [r.id for r in kept] == ["rlhfv-100", "rlhfv-101"] and dropped == ["rlhfv-102"]
    with pytest.raises(DataError, match=r"\[1\]: idx 100 appears on an earlier row"):
        read_pool(
            _release(tmp_path / "d.parquet", ROWS[:2], r1={"idx": 100}), "rlhfv", media_dir=tmp_path / "m"
        )


def test_rlhfv_needs_its_columns_and_a_media_folder(tmp_path):
    path = tmp_path / "r.parquet"
    pd.DataFrame([{"question": "Q", "chosen": "C", "rejected": "R"}]).to_parquet(
        path
    )  # RLAIF-V's flat layout
    with pytest.raises(DataError, match="columns text and image; missing"):
        read_pool(path, "rlhfv", media_dir=tmp_path / "m")
    with pytest.raises(ValueError, match="give media_dir"):
        read_pool(path, "rlhfv")


def test_the_rlhfv_mini_reads_through_the_same_code(tmp_path):
    from flexjudge.benchmarks.synthetic.rlhfv import build_rlhfv

    build_rlhfv(tmp_path, 8, np.random.default_rng(0))
    rows, skipped = read_pool(
        tmp_path / "RLHF-V" / "RLHF-V-Dataset.parquet", "rlhfv", media_dir=tmp_path / "m"
    )
    assert len(rows) == 8 and not skipped
    frame = pd.read_parquet(tmp_path / "RLHF-V" / "RLHF-V-Dataset.parquet")
    assert list(frame.columns) == [
        "ds_name",
        "image",
        "text",
        "origin_dataset",
        "origin_split",
        "idx",
        "image_path",
    ]
    for row, text in zip(rows, frame["text"], strict=True):
        assert row.answers["AB".index(row.preferred)] == json.loads(text)["chosen"]
