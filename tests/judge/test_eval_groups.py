"""evaluate with `evaluations=[...]`: one process judges a group, each evaluation as its own run would."""

import json
import shutil
import subprocess
import sys

import pytest

from conftest import stage_cfg

GROUP = "[hh_harmless_heldout/k1/none,hh_harmless_heldout/k3/none,hh_harmless_heldout/k3/wait1]"


def evaluate(tmp_path, *overrides: str) -> subprocess.CompletedProcess:
    """The evaluate stage as a real Hydra app (a group needs the command line it was given)."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "flexjudge.evaluate",
            f"paths.results={tmp_path}",
            "logger=none",
            "progress=false",
            "backend=simulated",
            "backend.error_rate=0.3",
            f"hydra.run.dir={tmp_path / 'hydra'}",
            *overrides,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def results(tmp_path, curated):
    (tmp_path / "curate").mkdir()
    shutil.copy(curated / "heldout.jsonl", tmp_path / "curate" / "heldout.jsonl")
    return tmp_path


def test_a_group_writes_what_separate_runs_write(results, tmp_path_factory):
    group = evaluate(results, f"evaluations={GROUP}", "benchmark.order=both", f"out_dir={results / 'group'}")
    assert group.returncode == 0, group.stderr[-2000:]
    summary = json.loads((results / "group" / "group.json").read_text())
    assert [(e["voting"], e["budget"]) for e in summary["evaluations"]] == [
        ("k1", "none"),
        ("k3", "none"),
        ("k3", "wait1"),
    ]
    alone = tmp_path_factory.mktemp("alone")
    shutil.copytree(results / "curate", alone / "curate")
    single = evaluate(alone, "voting=k3", "budget=wait1", "benchmark.order=both")
    assert single.returncode == 0, single.stderr[-2000:]
    leaf = "eval/smollm2_vl/base/hh_harmless_heldout/k3/wait1"
    grouped, separate = (json.loads((root / leaf / "metrics.json").read_text()) for root in (results, alone))
    assert grouped["metrics"] == separate["metrics"] and grouped["metrics"]["n_votes"] == 6 * 2 * 3
    assert (results / leaf / "predictions.jsonl").read_text() == (
        alone / leaf / "predictions.jsonl"
    ).read_text()
    config = json.loads((results / leaf / "config.json").read_text())
    assert (
        config["benchmark"]["order"] == "both" and config["voting"]["k"] == 3
    )  # the group's overrides apply


def test_a_bad_group_entry_names_the_expected_form(results):
    result = evaluate(results, "evaluations=[hh_harmless_heldout/k1]", f"out_dir={results / 'group'}")
    assert result.returncode != 0
    assert "expected <benchmark>/<voting>/<budget>" in result.stderr


def test_another_judge_format_is_a_recorded_deviation(results):
    from flexjudge.evaluate import run

    record = run(stage_cfg("evaluate", results, "backend=simulated", "benchmark.judge_format=pair_verdict"))
    assert record["judge_format"] == "pair_verdict"
    assert record["protocol_deviations"] == [
        "judge_format pair_verdict instead of the protocol's pair_scores"
    ]
    assert run(stage_cfg("evaluate", results, "backend=simulated"))["protocol_deviations"] == []
    with pytest.raises(ValueError, match=r"registry .* says 'pair_scores' \(or one of \['pair_verdict'\]\)"):
        run(stage_cfg("evaluate", results, "backend=simulated", "benchmark.judge_format=score"))
