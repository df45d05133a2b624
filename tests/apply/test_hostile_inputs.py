"""Hostile input gets a clear error naming the file (and line), or a counted skip where the run asks for one:
non-UTF-8 bytes, a huge text field, a batch row too long to label, a media path escaping its root through a
symlink, a WAV with a bad header, a decompression bomb, an invalid SMILES."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from flexjudge.apply.inputs import MAX_BATCH, MAX_FIELD_CHARS, read_user_file
from flexjudge.core.io import DataError
from flexjudge.data.media import load_audio, load_image, load_video, resolve_media


def jsonl(path, rows, raw: bytes = b""):
    path.write_bytes(b"".join((json.dumps(r) + "\n").encode() for r in rows) + raw)
    return path


GOOD = {"prompt": "Which is better?", "responses": ["one", "two"]}


def test_non_utf8_bytes_name_the_line_and_can_be_skipped(tmp_path):
    path = jsonl(tmp_path / "in.jsonl", [GOOD], b'{"prompt": "caf\xe9", "responses": ["a", "b"]}\n')
    with pytest.raises(DataError, match=r"in\.jsonl:2: not UTF-8 \(byte 0xe9 at byte 16"):
        read_user_file(path, "pair_scores")
    skipped = read_user_file(path, "pair_scores", on_error="skip")
    assert len(skipped.items) == 1 and len(skipped.skipped) == 1 and "not UTF-8" in skipped.skipped[0]


def test_a_50_mb_text_field_is_refused_by_name(tmp_path):
    big = {"prompt": "x" * (50 * 1024 * 1024), "responses": ["a", "b"]}
    path = jsonl(tmp_path / "in.jsonl", [GOOD, big])
    with pytest.raises(
        DataError,
        match=rf"in\.jsonl:2: field 'prompt' holds a text of 52,428,800 characters.*{MAX_FIELD_CHARS:,}",
    ):
        read_user_file(path, "pair_scores")
    long_answer = {"prompt": "q", "responses": ["a", "y" * (MAX_FIELD_CHARS + 1)]}
    with pytest.raises(DataError, match=r"two\.jsonl:1: field 'responses'"):
        read_user_file(jsonl(tmp_path / "two.jsonl", [long_answer]), "pair_scores")


def test_a_10000_answer_batch_row_is_refused(tmp_path):
    path = jsonl(
        tmp_path / "in.jsonl", [{"prompt": "Rank them.", "responses": [f"r{i}" for i in range(10_000)]}]
    )
    with pytest.raises(DataError, match=rf"in\.jsonl:1: format batch judges two to {MAX_BATCH} .* has 10000"):
        read_user_file(path, "batch")
    ok = jsonl(
        tmp_path / "ok.jsonl", [{"prompt": "Rank them.", "responses": [f"r{i}" for i in range(MAX_BATCH)]}]
    )
    assert len(read_user_file(ok, "batch").items[0].answers) == MAX_BATCH


def test_a_symlink_out_of_the_media_root_is_refused(tmp_path):
    root, outside = tmp_path / "data", tmp_path / "secret"
    root.mkdir()
    outside.mkdir()
    Image.new("RGB", (8, 8)).save(outside / "x.png")
    (root / "link.png").symlink_to(outside / "x.png")
    (root / "dir").symlink_to(outside, target_is_directory=True)
    for relative in ("link.png", "dir/x.png"):
        with pytest.raises(DataError, match=r"row 3: media path .* leaves the data root"):
            resolve_media(root, relative, "row 3")


def test_a_wav_with_a_bad_header_names_the_file(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt " + b"\x00" * 30)
    with pytest.raises(DataError, match=r"row 4: cannot read WAV audio .*bad\.wav"):
        load_audio(bad, where="row 4")


@pytest.mark.parametrize("side", [12_000, 20_000])  # over PIL's warning limit, and over its error limit
def test_a_decompression_bomb_is_refused(tmp_path, side):
    bomb = tmp_path / "bomb.png"
    Image.new("1", (side, side)).save(bomb)  # a few kB on disk, 144M / 400M pixels decoded
    assert bomb.stat().st_size < 200_000
    with pytest.raises(DataError, match=r"row 5: image .*bomb\.png is too large to decode safely"):
        load_image(bomb, "row 5")
    gif = tmp_path / "bomb.gif"
    Image.new("L", (side, side)).save(gif)
    with pytest.raises(DataError, match=r"row 6: cannot read video .*bomb\.gif"):
        load_video(gif, fps=1.0, max_frames=4, where="row 6")


def test_an_invalid_smiles_names_the_row(tmp_path):
    path = jsonl(tmp_path / "in.jsonl", [{"prompt": "Soluble?", "response": "Yes.", "smiles": "C1CC(("}])
    with pytest.raises(DataError, match=r"in\.jsonl:1: field 'smiles' 'C1CC\(\(' is not a valid SMILES"):
        read_user_file(path, "score")
