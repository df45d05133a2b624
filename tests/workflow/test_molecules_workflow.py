"""The molecular application through Snakemake on tiny random backbones: every stage's outputs, the oracle
control's best-of-N at the oracle line, a no-op rerun, and a changed best-of-N setting rerunning only what
reads it."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from fixtures.snakemake_runs import planned_jobs
from flexjudge import REPO_ROOT

pytestmark = pytest.mark.slow
CONFIG = REPO_ROOT / "tests" / "fixtures" / "workflow_molecules.yaml"


def snakemake(workdir, conf, *args, extra_config=()):
    env = {**os.environ, "FLEXJUDGE_CONF": str(conf), "WANDB_SILENT": "true"}
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO_ROOT / "Snakefile"), "--cores", "2"]
    cmd += ["--configfile", str(CONFIG), *map(str, extra_config), "--directory", str(workdir), *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def mol_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("molecules")
    conf = tmp / "conf"
    shutil.copytree(REPO_ROOT / "conf", conf)
    workdir = tmp / "work"
    result = snakemake(workdir, conf)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return workdir, conf


def test_every_stage_of_the_application_wrote_its_outputs(mol_run):
    workdir, _ = mol_run
    root = workdir / "results" / "molecules" / "chembl_activity"
    summary = json.loads((root / "summary.json").read_text())
    assert set(summary["dpo"]) == {"flex", "oracle"} and summary["n_molecules"] == 4
    for r in summary["dpo"].values():
        assert 0 <= r["before"] <= 1 and r["before_ci95"][0] <= r["before"] <= r["before_ci95"][1]
        assert r["sampled"]["answers_per_molecule"] == 4  # the policy's candidates, before and after
        assert r["sampled"]["before_ci95"][0] <= r["sampled"]["before"] <= r["sampled"]["before_ci95"][1]
    assert "### Sampled: 4 answers per molecule" in (root / "summary.md").read_text()
    curve = json.loads((root / "bestofn" / "curve.json").read_text())["judges"]
    assert set(curve) == {"flex", "oracle", "random"}
    for p in curve["oracle"]["points"]:  # the oracle judge picks a right answer whenever there is one
        assert p["judge_mean"] == pytest.approx(p["oracle_mean"])
        assert p["random_mean"] <= p["oracle_mean"]
    answers = [
        json.loads(line) for line in (root / "policy" / "base" / "candidates" / "answers.jsonl").open()
    ]
    assert len(answers) == 16 and {a["sample"] for a in answers} == {0, 1, 2, 3}
    assert (root / "summary.png").stat().st_size > 0 and (root / "bestofn" / "curve.png").stat().st_size > 0
    board = (workdir / "results" / "leaderboard" / "leaderboard.md").read_text()
    assert "Molecular application: chembl_activity" in board
    index = (workdir / "results" / "leaderboard" / "index.html").read_text()
    section = index.split('id="b-molecules-chembl-activity"')[1].split("<h2")[0]
    assert (
        "Molecular application: chembl_activity" in section and "<table>" in section and "Best-of-N" in index
    )
    for plot in ("bestofn", "summary"):  # both plots beside the report, shown on it
        assert f'src="molecules/chembl_activity-{plot}.png"' in section
        assert (workdir / f"results/leaderboard/molecules/chembl_activity-{plot}.png").read_bytes()[
            :4
        ] == b"\x89PNG"
    for judge in ("flex", "oracle"):
        assert (root / "dpo" / judge / "checkpoint" / "model.safetensors").exists()
    # the FLEX-Mol judge: the fine-tuned judge's LLM inside the molecular LLM, reading <mol> embeddings
    imported = json.loads((workdir / "results/molecules/judges/tiny_mol/flex/import_report.json").read_text())
    assert imported["text_logit_max_diff"] <= 1e-4 and imported["rows_kept"] >= 1
    for judge, reads in (("flex", True), ("oracle", False)):
        assert json.loads((root / "scored" / judge / "report.json").read_text())["molecule_part"] is reads


def test_rerun_does_nothing_and_a_changed_trial_count_reruns_only_the_curve(mol_run):
    workdir, conf = mol_run
    assert planned_jobs(snakemake(workdir, conf, "-n")) == {}
    more = workdir.parent / "more_trials.yaml"
    more.write_text("molecules: {trials: 4}\n")  # merged into the molecules section
    planned = planned_jobs(snakemake(workdir, conf, "-n", extra_config=[more]))
    assert planned == {"bestofn": 1, "molreport": 1, "leaderboard": 1, "all": 1}, planned
