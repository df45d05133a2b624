"""Stage retention: VQA answering through the judging engine on the TextVQA mini with a tiny Qwen2.5-VL."""

from __future__ import annotations

import numpy as np
import pytest
from tests.conftest import stage_cfg

from flexjudge.benchmarks.synthetic.vqa import build_okvqa, build_textvqa
from flexjudge.core.io import read_json, read_jsonl
from flexjudge.protocol.vqa import parse_answer, vqa_accuracy
from flexjudge.retention import run


@pytest.mark.parametrize(
    ("build", "benchmark", "data"),
    [(build_textvqa, "textvqa", "TextVQA/TextVQA_0.5.1_val.json"), (build_okvqa, "okvqa", "OK-VQA")],
)
def test_retention_answers_scores_and_reruns_from_the_cache(tmp_path, tiny_manifest, build, benchmark, data):
    build(tmp_path / "minis", 3, np.random.default_rng(0))
    args = (
        f"judge={tiny_manifest}",
        f"dataset={benchmark}",
        f"data={tmp_path / 'minis' / data}",
        "max_new_tokens=6",
        "bootstrap=50",
        f"cache={tmp_path / 'votes.sqlite'}",
    )
    metrics = run(stage_cfg("retention", tmp_path, *args))
    out = tmp_path / "retention" / "base" / benchmark
    rows = read_jsonl(out / "predictions.jsonl")
    assert read_json(out / "metrics.json") == metrics and len(rows) == metrics["n_items"] == 3
    for row in rows:  # each row's answer and score follow from the model's own reply
        answer, failure = parse_answer(row["output"])
        assert (row["answer"], row["failure"]) == (answer, failure)
        assert row["accuracy"] == (0.0 if answer is None else vqa_accuracy(answer, row["answers"]))
    assert metrics["vqa_accuracy"] == pytest.approx(sum(r["accuracy"] for r in rows) / 3)
    assert metrics["unanswered_rate"] == sum(r["answer"] is None for r in rows) / 3
    assert metrics["votes"]["generated"] == 3
    again = run(stage_cfg("retention", tmp_path, *args))
    assert again["votes"] == {"total": 3, "cached": 3, "generated": 0}
    assert {k: v for k, v in again.items() if k != "votes"} == {
        k: v for k, v in metrics.items() if k != "votes"
    }


def test_retention_names_what_is_wrong(tmp_path, tiny_manifest):
    with pytest.raises(ValueError, match="choose one of"):
        run(stage_cfg("retention", tmp_path, "dataset=vqav2", "data=x"))
    with pytest.raises(ValueError, match="set data="):
        run(stage_cfg("retention", tmp_path))
