"""The leaderboard's experiment sections (judge.experiments): VQA retention beside the paper's Table 11."""

from __future__ import annotations

import pandas as pd
import pytest

from flexjudge.core.io import write_json, write_jsonl
from flexjudge.judge.experiments import experiment_tables, experiments_markdown, retention_table


def _run(root, variant, dataset, scores, backbone="vl"):
    out = root / backbone / variant / dataset
    write_jsonl(out / "predictions.jsonl", [{"id": str(i), "accuracy": s} for i, s in enumerate(scores)])
    metrics = {
        "dataset": dataset,
        "variant": variant,
        "backbone": backbone,
        "vqa_accuracy": sum(scores) / len(scores),
        "ci95": [0.1, 0.9],
        "n_items": len(scores),
        "unanswered_rate": 0.25,
    }
    write_json(out / "metrics.json", metrics)
    return out / "metrics.json"


def test_retention_table_has_a_column_per_variant_and_the_paired_difference(tmp_path):
    paths = [
        _run(tmp_path, "base", "textvqa", [1.0, 1.0, 0.0, 0.0]),
        _run(tmp_path, "flex", "textvqa", [1.0, 0.0, 0.0, 0.0]),
        _run(tmp_path, "base", "okvqa", [0.3, 0.6, 1.0, 1.0]),
    ]
    table = retention_table(paths).ours
    text = table.set_index("dataset")
    assert list(table.columns[:4]) == ["backbone", "dataset", "questions", "base"]
    assert text.loc["textvqa", "base"] == "0.500 [0.100, 0.900]"
    diff = text.loc["textvqa", "flex − base"]
    assert diff.startswith("-0.250 [")  # flex lost one of the base's right answers
    low, high = (float(x) for x in diff.split("[")[1].rstrip("]").split(","))
    assert low <= -0.25 <= high <= 0.0  # paired: flex never beats base on an item, so the CI stays <= 0
    assert pd.isna(text.loc["okvqa", "flex − base"])  # no flex run on okvqa: no difference
    assert "not in reference/paper_results.csv" in retention_table(paths).note


def test_retention_table_refuses_runs_on_different_questions(tmp_path):
    paths = [
        _run(tmp_path, "base", "textvqa", [1.0, 0.0]),
        _run(tmp_path, "flex", "textvqa", [1.0, 0.0, 1.0]),
    ]
    with pytest.raises(ValueError, match="different questions"):
        retention_table(paths)


def test_retention_shows_the_papers_rows_when_the_reference_has_them(tmp_path):
    paths = [_run(tmp_path, "base", "textvqa", [1.0, 0.0])]
    reference = pd.DataFrame(
        [
            {
                "benchmark": "textvqa",
                "subset": "all",
                "metric": "vqa_accuracy",
                "model": "M",
                "value": 0.8,
                "source": "T11",
            },
            {
                "benchmark": "nisqa",
                "subset": "all",
                "metric": "lcc",
                "model": "M",
                "value": 0.5,
                "source": "T3",
            },
        ]
    )
    section = retention_table(paths, reference)
    assert section.paper.to_dict("records") == [{"model": "M", "source": "T11", "textvqa": 0.8}]
    markdown = "\n".join(experiments_markdown([section]))
    assert "## VQA retention (paper Table 11)" in markdown and "Paper:" in markdown
    assert experiment_tables(None, [], reference) == []


def test_answer_first_table_sets_the_two_judges_side_by_side():
    from flexjudge.judge.experiments import answer_first_table

    row = {"benchmark": "judgelm_val", "backbone": "vl", "voting": "k1", "budget": "none"}
    table = pd.DataFrame(
        [
            {**row, "variant": "base", "accuracy": 0.1, "parse_failure_rate": 0.9},
            {**row, "variant": "flex", "accuracy": 0.7, "parse_failure_rate": 0.0},
            {**row, "variant": "flex_answer", "accuracy": 0.6, "parse_failure_rate": 0.25},
            {**row, "budget": "think64", "variant": "flex", "accuracy": 0.8, "parse_failure_rate": 0.0},
        ]
    )
    section = answer_first_table(table)
    assert section.ours.to_dict("records") == [
        {
            "benchmark": "judgelm_val",
            "backbone": "vl",
            "setting": "k1/none",  # think64 has no flex_answer run: no row
            "metric": "accuracy ↑",
            "flex (reasoning first)": 0.7,
            "flex_answer (answer first)": 0.6,
            "flex parse rate": 1.0,
            "flex_answer parse rate": 0.75,
        }
    ]
    assert answer_first_table(table[table["variant"] != "flex_answer"]) is None


def test_image_text_table_compares_the_two_training_sets():
    from flexjudge.judge.experiments import experiment_tables

    row = {"benchmark": "vl_rewardbench", "backbone": "vl", "voting": "k1", "budget": "none"}
    table = pd.DataFrame(
        [
            {**row, "variant": "flex", "accuracy": 0.5, "parse_failure_rate": 0.0},
            {**row, "variant": "flex_image", "accuracy": 0.75, "parse_failure_rate": 0.5},
        ]
    )
    (section,) = experiment_tables(table)
    assert section.anchor == "image-text" and section.ours.to_dict("records") == [
        {
            "benchmark": "vl_rewardbench",
            "backbone": "vl",
            "setting": "k1/none",
            "metric": "accuracy ↑",
            "flex (text rationales)": 0.5,
            "flex_image (image-text pairs)": 0.75,
            "flex parse rate": 1.0,
            "flex_image parse rate": 0.5,
        }
    ]


def test_a_variant_section_shows_the_papers_rows_of_its_source():
    from flexjudge.judge.experiments import image_text_table

    row = {"benchmark": "vl_rewardbench", "backbone": "vl", "voting": "k1", "budget": "none", "accuracy": 0.5}
    table = pd.DataFrame([{**row, "variant": "flex"}, {**row, "variant": "flex_image"}])
    reference = pd.DataFrame(
        [
            {
                "benchmark": "vl_rewardbench",
                "subset": "overall",
                "metric": "accuracy",
                "model": "FLEX-VL-7B (image-text)",
                "value": 40.0,
                "source": "FLEX-Judge Table 5",
            },
            {
                "benchmark": "vl_rewardbench",
                "subset": "overall",
                "metric": "accuracy",
                "model": "FLEX-VL-7B",
                "value": 48.6,
                "source": "FLEX-Judge Table 2a",
            },
        ]
    )
    shown = image_text_table(table, reference)
    assert shown.paper["model"].tolist() == ["FLEX-VL-7B (image-text)"] and "are below" in shown.note
    assert "not in reference/paper_results.csv" in image_text_table(table).note
