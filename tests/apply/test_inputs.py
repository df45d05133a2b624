"""A user's JSONL file: every format's rows read into items, and every bad row named by file:line and field."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from scipy.io import wavfile

from flexjudge.apply.inputs import read_user_file
from flexjudge.core.io import DataError


def write(path, rows):
    path.write_text(
        "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8"
    )
    return path


def test_rows_of_every_kind_become_items_with_their_media(tmp_path):
    Image.new("RGB", (32, 32), "red").save(tmp_path / "red.png")
    wavfile.write(tmp_path / "a.wav", 16000, np.zeros(1600, dtype=np.int16))
    (tmp_path / "clip").mkdir()
    for i in range(3):
        Image.new("RGB", (16, 16), (i * 80, 0, 0)).save(tmp_path / "clip" / f"{i:03d}.png")
    path = write(
        tmp_path / "in.jsonl",
        [
            {"prompt": "What colour?", "response": "Red.", "media": "red.png", "rubric": "Be exact."},
            {"prompt": "Rate the speech.", "response": "(the audio)", "response_media": [["a.wav"]]},
            {"prompt": "Describe.", "response": "Frames.", "media": [{"path": "clip", "fps": 2}]},
            {"id": 7, "prompt": "Is it soluble?", "response": "Yes.", "smiles": "CCO", "reference": "Yes."},
        ],
    )
    items = read_user_file(path, "score").items
    assert [i.id for i in items] == ["line1", "line2", "line3", "7"]
    assert items[0].media[0]["type"] == "image" and "[Judge by]\nBe exact." in items[0].question
    assert items[1].answer_media[0][0]["type"] == "audio"
    assert items[2].media[0] == {"type": "video", "path": str((tmp_path / "clip").resolve()), "fps": 2.0}
    assert (
        items[3].media == ({"type": "molecule", "smiles": "CCO"},)  # <mol> embeddings for a molecular judge
        and items[3].question.startswith("Molecule (SMILES): CCO")
        and "[Reference answer]\nYes." in items[3].question
    )
    assert items[3].source == f"{path}:4"


@pytest.mark.parametrize(
    ("row", "fmt", "message"),
    [
        ({"responses": ["a", "b"]}, "pair_scores", "field 'prompt' must be a non-empty string (got missing)"),
        (
            {"prompt": "q", "responses": ["a"]},
            "pair_scores",
            "judges exactly 2 responses per row, this row has 1",
        ),
        ({"prompt": "q", "responses": ["a"]}, "batch", "judges two to 26"),
        ({"prompt": "q", "response": "a", "media": "nope.png"}, "score", "media file"),
        ({"prompt": "q", "response": "a", "smiles": "C(("}, "score", "not a valid SMILES"),
        ({"prompt": "q", "response": "a", "answer": "x"}, "score", "unknown field(s) ['answer']"),
        ({"prompt": "q", "response": "a", "media": "notes.txt"}, "score", "the suffix .txt is none of"),
        ("[1, 2]", "score", "expected a JSON object, got list"),
        ("{not json", "score", "not valid JSON"),
    ],
)
def test_a_bad_row_stops_the_read_naming_file_line_and_field(tmp_path, row, fmt, message):
    (tmp_path / "notes.txt").write_text("x")
    path = write(
        tmp_path / "in.jsonl",
        [{"prompt": "fine", "responses": ["a", "b", "c"][: 1 if fmt == "score" else 2]}, row],
    )
    with pytest.raises(DataError) as err:
        read_user_file(path, fmt)
    assert f"{path}:2" in str(err.value) and message in str(err.value)


def test_on_error_skip_counts_and_names_the_bad_rows(tmp_path):
    path = write(
        tmp_path / "in.jsonl", [{"prompt": "q", "response": "a"}, "{oops", {"prompt": "", "response": "b"}]
    )
    read = read_user_file(path, "score", on_error="skip")
    assert len(read.items) == 1 and len(read.skipped) == 2
    assert read.skipped[0].startswith(f"{path}:2") and read.skipped[1].startswith(f"{path}:3")


def test_a_repeated_id_is_an_error_naming_both_lines(tmp_path):
    path = write(
        tmp_path / "in.jsonl",
        [{"id": "x", "prompt": "q", "response": "a"}, {"id": "x", "prompt": "q", "response": "b"}],
    )
    with pytest.raises(DataError, match=r"in.jsonl:2: id 'x' was already used at .*in.jsonl:1"):
        read_user_file(path, "score")
