import json

import pytest

from conftest import HH_DATA
from flexjudge.core.io import DataError
from flexjudge.data.hh_rlhf import read_hh_rlhf, split_dialogue
from flexjudge.data.schemas import PairItem, read_pair_items


def test_vendored_data_parses_with_counted_skips():
    items, skipped = read_hh_rlhf(HH_DATA, on_bad_row="skip")
    # 2,312 rows: 5 whose two dialogues differ before the last reply, 4 with an empty reply.
    assert len(items) == 2303
    assert dict(skipped) == {"context_mismatch": 5, "empty_reply": 4}
    assert len({it.id for it in items}) == len(items)
    first = items[0]
    assert first.question.startswith("Human: what are some pranks with a pen")
    assert first.chosen.startswith("No, sorry!")
    assert first.source.endswith("test.jsonl.gz:1")


def test_error_policy_names_file_and_line():
    with pytest.raises(DataError, match=r"test\.jsonl\.gz:\d+: (context mismatch|empty reply)"):
        read_hh_rlhf(HH_DATA, on_bad_row="error")


def write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_bad_rows(tmp_path):
    good = {"chosen": "\n\nHuman: hi\n\nAssistant: hello", "rejected": "\n\nHuman: hi\n\nAssistant: go away"}
    rows = [
        good,
        {"chosen": "no turns", "rejected": "x"},
        {"chosen": "\n\nHuman: hi\n\nAssistant: same", "rejected": "\n\nHuman: hi\n\nAssistant: same"},
        {"rejected": "x"},
    ]
    path = write(tmp_path / "pairs.jsonl", rows)
    items, skipped = read_hh_rlhf(path, on_bad_row="skip")
    assert [it.chosen for it in items] == ["hello"]
    assert dict(skipped) == {"no_assistant_turn": 1, "identical_replies": 1, "missing_field": 1}
    with pytest.raises(DataError, match=r"pairs\.jsonl:2: no assistant turn"):
        read_hh_rlhf(path)


def test_split_dialogue_uses_last_assistant_turn():
    assert split_dialogue("\n\nHuman: a\n\nAssistant: b\n\nHuman: c\n\nAssistant: d") == (
        "Human: a\n\nAssistant: b\n\nHuman: c",
        "d",
    )
    assert split_dialogue("Human: only") is None


def test_pair_item_rows_roundtrip_and_errors(tmp_path):
    item = PairItem("x-1", "q", "c", "r", "f:1")
    path = write(tmp_path / "items.jsonl", [item.to_row(), {"id": "x-2", "question": "q", "chosen": 3}])
    with pytest.raises(DataError, match=r"items\.jsonl:2: field 'chosen' must be a string \(int\)"):
        read_pair_items(str(path))
    write(path, [item.to_row()])
    assert read_pair_items(str(path)) == [item]
