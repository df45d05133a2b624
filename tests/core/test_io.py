import gzip
import json

import pytest

from flexjudge.core.io import (
    DataError,
    read_json,
    read_jsonl,
    sha256_file,
    stable_hash,
    write_json,
    write_jsonl,
)


def test_jsonl_roundtrip_plain_and_gz(tmp_path):
    rows = [{"a": 1, "b": "ü"}, {"a": 2}]
    assert write_jsonl(tmp_path / "x.jsonl", rows) == 2
    assert read_jsonl(tmp_path / "x.jsonl") == rows
    with gzip.open(tmp_path / "y.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.write("\n".join(json.dumps(r) for r in rows) + "\n\n")
    assert read_jsonl(tmp_path / "y.jsonl.gz") == rows


def test_bad_json_names_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"a": 1}\n\n{"a": 2,,}\n')
    with pytest.raises(DataError, match=r"bad\.jsonl:3: not valid JSON"):
        read_jsonl(path)


def test_non_object_line_is_an_error(tmp_path):
    path = tmp_path / "list.jsonl"
    path.write_text("[1, 2]\n")
    with pytest.raises(DataError, match=r"list\.jsonl:1: expected a JSON object"):
        read_jsonl(path)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(DataError, match="nope.jsonl: file not found"):
        read_jsonl(tmp_path / "nope.jsonl")


def test_atomic_write_leaves_no_partial_file(tmp_path):
    def rows():
        yield {"a": 1}
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        write_jsonl(tmp_path / "out.jsonl", rows())
    assert list(tmp_path.iterdir()) == []


def test_json_helpers(tmp_path):
    write_json(tmp_path / "m.json", {"x": [1, 2]})
    assert read_json(tmp_path / "m.json") == {"x": [1, 2]}
    (tmp_path / "broken.json").write_text("{\n  'x': 1\n}")
    with pytest.raises(DataError, match=r"broken\.json:2"):
        read_json(tmp_path / "broken.json")
    assert len(sha256_file(tmp_path / "m.json")) == 64
    assert stable_hash("a", 1) == stable_hash("a", 1) != stable_hash("a", 2)
