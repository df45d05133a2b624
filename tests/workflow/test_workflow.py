"""The DAG through Snakemake itself, on tiny random backbones: outputs, no-op rerun, precise reruns."""

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from fixtures.snakemake_runs import planned_jobs
from flexjudge import REPO_ROOT

pytestmark = pytest.mark.slow
SNAKEMAKE = [
    sys.executable,
    "-m",
    "snakemake",
    "-s",
    str(REPO_ROOT / "Snakefile"),
    "--cores",
    "2",
    "--configfile",
    str(REPO_ROOT / "tests" / "fixtures" / "workflow_tiny.yaml"),
]


# the eval groups of the tiny config, one job each per judge: the held-out grid (k1, k3), the image and
# video suite benchmarks, and the audio one (on the Omni twin)
FLEX_GROUPS = {"evaluate_grid": 1, "evaluate_suite_vision": 1, "evaluate_suite_audio": 1}


def snakemake(workdir: Path, conf: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "FLEXJUDGE_CONF": str(conf), "WANDB_SILENT": "true"}
    return subprocess.run(
        [*SNAKEMAKE, "--directory", str(workdir), *args], env=env, capture_output=True, text=True, timeout=900
    )


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("workflow")
    conf = tmp / "conf"
    shutil.copytree(REPO_ROOT / "conf", conf)
    workdir = tmp / "work"
    result = snakemake(workdir, conf)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return workdir, conf


def test_dag_writes_leaderboard_for_base_and_flex(run_dir):
    workdir, _ = run_dir
    table = pd.read_csv(workdir / "results" / "leaderboard" / "leaderboard.csv")
    baseline = table[table["backbone"] == "tiny_llava_ov"]
    assert sorted(baseline["benchmark"]) == ["hh_harmless_heldout", "mllm_judge_pair"]  # no video, no audio
    assert (baseline["variant"] == "base").all()
    critic = json.loads(
        (
            workdir
            / "results"
            / "eval"
            / "tiny_llava_ov"
            / "base"
            / "mllm_judge_pair"
            / "k1"
            / "none"
            / "metrics.json"
        ).read_text()
    )
    assert critic["judge_format"] == "critic_pair"
    # the grid's benchmarks at all their items (as the judges it is compared with), the suite's at suite_limit
    assert dict(zip(baseline["benchmark"], baseline["n_items"], strict=True)) == {
        "hh_harmless_heldout": 6,
        "mllm_judge_pair": 3,
    }
    table = table[table["backbone"] != "tiny_llava_ov"]
    held_out = table[table["benchmark"] == "hh_harmless_heldout"]
    assert sorted(zip(held_out["variant"], held_out["voting"], strict=True)) == [
        ("base", "k1"),
        ("base", "k3"),
        ("flex", "k1"),
        ("flex", "k3"),
    ]
    assert (held_out["n_items"] == 6).all()
    # the suite slice on mini versions: once per judge, audio by the Omni twin, suite_limit items each
    suite = table[table["benchmark"] != "hh_harmless_heldout"]
    assert sorted(zip(suite["benchmark"], suite["backbone"], suite["variant"], strict=True)) == [
        (b, judge, v)
        for b, judge in (
            ("genai_bench_video_generation", "tiny_vl"),
            ("mllm_judge_pair", "tiny_vl"),
            ("nisqa", "tiny_omni"),
        )
        for v in ("base", "flex")
    ]
    assert (suite["n_items"] == 3).all() and (suite["voting"] == "k1").all()
    assert (workdir / "results" / "minis" / "made" / "speech.json").exists()
    assert (workdir / "results" / "twins" / "tiny_omni" / "flex" / "judge.json").exists()
    md = (workdir / "results" / "leaderboard" / "leaderboard.md").read_text()
    assert "| tiny_vl" in md and "accuracy ↑" in md
    # each fine-tuned judge links the provenance manifest of its SFT set
    training = md.split("## Training data")[1].split("## ")[0]
    assert "tiny_vl/flex" in training and "../select/tiny_vl/flex/manifest.json" in training
    manifest = json.loads((workdir / "results" / "select" / "tiny_vl" / "flex" / "manifest.json").read_text())
    assert manifest["rows"] == manifest["counts"]["select"]["rows"] > 0
    # decontaminated against every mini benchmark the DAG built first
    assert len(manifest["decontamination"]["checked"]) == 19 and not manifest["decontamination"]["unchecked"]
    assert (workdir / "results" / "leaderboard" / "leaderboard.png").stat().st_size > 1000
    # the HTML report: its plots beside it, one item page per evaluation
    report = workdir / "results" / "leaderboard"
    assert "hh_harmless_heldout" in (report / "index.html").read_text()
    assert all((report / name).stat().st_size > 1000 for name in ("votes.png", "budget.png", "stability.png"))
    every = pd.read_csv(workdir / "results" / "leaderboard" / "leaderboard.csv")  # the baseline's rows too
    assert len(list((report / "items").glob("*.html"))) == len(every)
    for job in (
        "backbones/tiny_vl",
        "curate",
        "sample/tiny_vl",
        "select/tiny_vl/flex",
        "finetune/tiny_vl/flex",
        "eval_groups/tiny_vl/flex/grid",
    ):
        assert (workdir / "results" / job / ".hydra" / "config.yaml").exists(), job
    # one evaluate job per judge and group; each evaluation keeps its own composed config
    for evaluation in ("hh_harmless_heldout/k1/none", "hh_harmless_heldout/k3/none"):
        config = json.loads(
            (workdir / "results" / "eval" / "tiny_vl" / "flex" / evaluation / "config.json").read_text()
        )
        assert (
            f"{config['benchmark']['name']}/{config['voting']['name']}/{config['budget']['name']}"
            == evaluation
        )
    vision = json.loads(
        (workdir / "results" / "eval_groups" / "tiny_vl" / "base" / "suite_vision" / "group.json").read_text()
    )
    assert [e["benchmark"] for e in vision["evaluations"]] == [
        "mllm_judge_pair",
        "genai_bench_video_generation",
    ]
    assert vision["weight_loads"] == 1  # the judge was loaded once for the whole group
    checkpoint = workdir / "results" / "finetune" / "tiny_vl" / "flex" / "checkpoint"
    assert (checkpoint / "model.safetensors").exists() and not list(checkpoint.glob("*.bin"))
    # VQA retention: base and flex answer the TextVQA mini; the leaderboard's Table 11 section pairs them
    for variant in ("base", "flex"):
        retention = json.loads(
            (workdir / "results" / "retention" / "tiny_vl" / variant / "textvqa" / "metrics.json").read_text()
        )
        assert (retention["n_items"], retention["variant"], retention["backbone"]) == (4, variant, "tiny_vl")
    section = md.split("## VQA retention (paper Table 11)")[1].split("## ")[0]
    assert "| tiny_vl" in section and "flex − base" in section and "textvqa" in section
    assert 'id="b-retention"' in (report / "index.html").read_text()


def test_snakemake_report_holds_the_leaderboard_and_its_plots(run_dir, tmp_path):
    workdir, conf = run_dir
    result = snakemake(workdir, conf, "--report", str(tmp_path / "report.html"))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    html = (tmp_path / "report.html").read_text()
    for name in ("leaderboard.csv", "leaderboard.png", "votes.png", "position_bias.png", "stability.png"):
        assert name in html


def test_one_offline_wandb_run_per_job(run_dir):
    workdir, _ = run_dir
    runs = list((workdir / "results" / "wandb" / "wandb").glob("offline-run-*"))
    # 3 × provision (the VL backbone, its Omni twin, the baseline judge), curate, sample, select, finetune, twin,
    # 4 + 6 + 2 evaluations (the grid and suite groups, the baseline's), 2 × retention, leaderboard: 23 (the
    # minis jobs track nothing)
    assert len(runs) == 23


def test_rerun_does_nothing(run_dir):
    workdir, conf = run_dir
    result = snakemake(workdir, conf, "-n")
    assert result.returncode == 0
    assert planned_jobs(result) == {}
    # A locked directory also prints "Nothing to be done", so the lock message must be absent.
    assert "Nothing to be done" in result.stdout + result.stderr
    assert "cannot be locked" not in result.stdout + result.stderr


def test_hard_killed_run_resumes_without_redoing_finished_jobs(run_dir):
    """kill -9 of Snakemake and its jobs mid-DAG (during finetune); the rerun redoes only what had not
    finished, and its leaderboard is byte-identical to the uninterrupted run's."""
    workdir, conf = run_dir
    results = workdir / "results"
    board = {n: (results / "leaderboard" / n).read_bytes() for n in ("leaderboard.csv", "leaderboard.md")}
    # The state of a first run that has not fine-tuned yet: upstream jobs done, nothing downstream.
    for done_later in ("finetune", "eval/tiny_vl/flex", "leaderboard", "logs/finetune"):
        shutil.rmtree(results / done_later)
    env = {**os.environ, "FLEXJUDGE_CONF": str(conf), "WANDB_SILENT": "true"}
    proc = subprocess.Popen(
        [*SNAKEMAKE, "--directory", str(workdir)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    started = results / "logs" / "finetune" / "tiny_vl" / "flex.log"  # tee creates it as the job starts
    deadline = time.monotonic() + 120
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert started.exists(), "finetune never started"
    assert not (results / "finetune" / "tiny_vl" / "flex" / "judge.json").exists(), (
        "finetune ended before the kill"
    )
    locked = snakemake(workdir, conf, "-n")  # a hard kill leaves the lock behind
    assert "Directory cannot be locked" in locked.stdout + locked.stderr
    assert snakemake(workdir, conf, "--unlock").returncode == 0
    assert planned_jobs(snakemake(workdir, conf, "-n")) == {
        "finetune": 1,
        "twin": 1,  # the twin takes the fine-tuned LLM, so it and its evaluation rerun too
        **FLEX_GROUPS,
        "retention": 1,  # the fine-tuned judge's VQA answers
        "leaderboard": 1,
        "all": 1,
    }
    result = snakemake(workdir, conf)
    assert result.returncode == 0, result.stderr[-3000:]
    assert planned_jobs(snakemake(workdir, conf, "-n")) == {}
    for name, before in board.items():
        assert (results / "leaderboard" / name).read_bytes() == before, name


def test_changed_conf_value_reruns_only_dependent_jobs(run_dir):
    workdir, conf = run_dir
    text = (conf / "evaluate.yaml").read_text()
    (conf / "evaluate.yaml").write_text(text.replace("limit: null", "limit: 4"))
    result = snakemake(workdir, conf, "-n")
    assert planned_jobs(result) == {
        **{g: 2 for g in FLEX_GROUPS},
        "evaluate_baseline_grid_tiny_llava_ov": 1,
        "evaluate_baseline_tiny_llava_ov": 1,
        "leaderboard": 1,
        "all": 1,
    }
    result = snakemake(workdir, conf)
    assert result.returncode == 0, result.stderr[-3000:]
    table = pd.read_csv(workdir / "results" / "leaderboard" / "leaderboard.csv")
    table = table[table["backbone"] != "tiny_llava_ov"]
    held_out = table["benchmark"] == "hh_harmless_heldout"
    assert (table[held_out]["n_items"] == 4).all()
    assert (table[~held_out]["n_items"] == 3).all()  # the suite keeps its own suite_limit
    # A touch without a content change reruns nothing (Snakemake compares stored input checksums) ...
    (conf / "trainer" / "demo.yaml").touch()
    assert planned_jobs(snakemake(workdir, conf, "-n")) == {}
    # ... a changed training value reruns the fine-tune and what reads the fine-tuned judge, not the base.
    recipe = (conf / "trainer" / "demo.yaml").read_text()
    (conf / "trainer" / "demo.yaml").write_text(recipe.replace("max_grad_norm: 1.0", "max_grad_norm: 0.5"))
    assert planned_jobs(snakemake(workdir, conf, "-n")) == {
        "finetune": 1,
        "twin": 1,  # the twin takes the fine-tuned LLM, so it and its evaluation rerun too
        **FLEX_GROUPS,
        "retention": 1,  # the fine-tuned judge's VQA answers
        "leaderboard": 1,
        "all": 1,
    }
    (conf / "trainer" / "demo.yaml").write_text(recipe)  # back as it was: nothing to redo
    assert planned_jobs(snakemake(workdir, conf, "-n")) == {}


def test_changed_option_file_of_a_stage_reruns_that_stage(run_dir):
    """The option files a stage composes (its defaults list, `group=name` overrides) are its inputs: a
    changed budget option reruns the sample stage that thinks under it, and everything downstream."""
    workdir, conf = run_dir
    path = conf / "budget" / "none.yaml"
    text = path.read_text()
    path.write_text(text.replace("continuation: Wait", "continuation: Hmm"))
    try:
        planned = planned_jobs(snakemake(workdir, conf, "-n"))
    finally:
        path.write_text(text)
    assert planned == {
        "sample": 1,
        "select": 1,
        "finetune": 1,
        "twin": 1,
        **{g: 2 for g in FLEX_GROUPS},  # every evaluation here runs under budget none
        "evaluate_baseline_grid_tiny_llava_ov": 1,
        "evaluate_baseline_tiny_llava_ov": 1,
        "retention": 1,
        "leaderboard": 1,
        "all": 1,
    }
    backend = conf / "backend" / "hf.yaml"
    text = backend.read_text()
    backend.write_text(text + "\n# a changed backend option file\n")
    try:
        planned = planned_jobs(snakemake(workdir, conf, "-n"))
    finally:
        backend.write_text(text)
    assert planned["sample"] == 1 and planned["evaluate_grid"] == 2
    assert "provision" not in planned and "curate" not in planned


def test_changed_stage_overrides_rerun_that_stage_and_what_follows(run_dir):
    """A stage's `overrides` in the workflow config are recorded with its jobs (the `settings` parameter):
    a changed select override reruns select and what is built from its SFT set, nothing upstream and no
    base evaluation; a changed suite_limit reruns the suite groups only."""
    workdir, conf = run_dir
    select = "overrides={select: [min_pair_tokens=1, min_single_tokens=1, rescale_share=0.1]}"
    assert planned_jobs(snakemake(workdir, conf, "-n", "--config", select)) == {
        "select": 1,
        "finetune": 1,
        "twin": 1,
        **FLEX_GROUPS,
        "retention": 1,  # the fine-tuned judge's VQA answers
        "leaderboard": 1,
        "all": 1,
    }
    assert planned_jobs(snakemake(workdir, conf, "-n", "--config", "suite_limit=2")) == {
        "evaluate_suite_vision": 2,
        "evaluate_suite_audio": 2,
        "evaluate_baseline_tiny_llava_ov": 1,  # a baseline judges the suite at suite_limit items too
        "leaderboard": 1,
        "all": 1,
    }


def test_changed_benchmark_config_reruns_its_group_from_the_cache(run_dir):
    """A benchmark's config (its registry node and `benchmark_overrides`) is a parameter of its group's jobs
    only; a change that leaves the votes as they were reruns those jobs, and every vote of the rerun comes
    from the cache."""
    workdir, conf = run_dir
    changed = ("--config", "benchmark_overrides={nisqa: [on_missing=skip]}")
    assert planned_jobs(snakemake(workdir, conf, "-n", *changed)) == {
        "evaluate_suite_audio": 2,
        "leaderboard": 1,
        "all": 1,
    }
    result = snakemake(workdir, conf, *changed)
    assert result.returncode == 0, result.stderr[-3000:]
    for variant in ("base", "flex"):
        group = json.loads(
            (
                workdir / "results" / "eval_groups" / "tiny_omni" / variant / "suite_audio" / "group.json"
            ).read_text()
        )
        (votes,) = [e["votes"] for e in group["evaluations"]]
        assert votes["generated"] == 0 and votes["cached"] == votes["total"] == 3
        config = json.loads(
            (
                workdir / "results" / "eval" / "tiny_omni" / variant / "nisqa" / "k1" / "none" / "config.json"
            ).read_text()
        )
        assert config["benchmark"]["on_missing"] == "skip"
    assert snakemake(workdir, conf).returncode == 0


def test_a_benchmark_override_names_a_bad_key(run_dir):
    workdir, conf = run_dir
    result = snakemake(workdir, conf, "-n", "--config", "benchmark_overrides={nisqa2: [on_missing=skip]}")
    assert (
        result.returncode != 0
        and "benchmark 'nisqa2' is not in the registry" in result.stdout + result.stderr
    )


def test_bad_grid_name_fails_at_start(tmp_path):
    result = subprocess.run(
        [*SNAKEMAKE, "--directory", str(tmp_path), "-n", "--config", "voting=[k7]"],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "voting option 'k7'" in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("threds=2", "'threds' was unexpected"),
        ("threads=0", "0 is not valid under any of the given schemas"),
        ("variants=[base,flexi]", "'flexi' is not one of ['base', 'flex', 'flex_answer', 'flex_image']"),
        ("precision=fp16", "'fp16' is not one of ['fp32', 'bf16', 'auto']"),
    ],
)
def test_the_config_schema_names_a_bad_key_or_value(tmp_path, override, message):
    """workflow/schemas/config.schema.yaml: a misspelt key or a wrong value stops the run before any job."""
    result = subprocess.run(
        [*SNAKEMAKE, "--directory", str(tmp_path), "-n", "--config", override], capture_output=True, text=True
    )
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Error validating config file" in out and message in out, out[-2000:]


def test_a_baseline_cannot_also_be_a_trained_backbone(tmp_path):
    result = subprocess.run(
        [*SNAKEMAKE, "--directory", str(tmp_path), "-n", "--config", "baselines=[tiny_vl]"],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0 and "both baselines and trained backbones" in result.stdout + result.stderr


def test_data_size_sweep_adds_one_judge_per_size(tmp_path):
    """data_sizes adds flex_n<size> judges: one select (target = size), fine-tune and twin each, evaluated
    like flex; the teacher's samples are shared."""
    result = subprocess.run(
        [*SNAKEMAKE, "--directory", str(tmp_path), "-n", "-p", "--config", "data_sizes=[4,16]"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    jobs = planned_jobs(result)
    assert jobs["sample"] == 1 and jobs["select"] == jobs["finetune"] == jobs["twin"] == 3
    # three eval groups (grid, suite vision, suite audio) for each of base, flex and the two sweep judges
    assert {g: jobs[g] for g in FLEX_GROUPS} == {g: 4 for g in FLEX_GROUPS}
    assert "select/tiny_vl/flex_n16" in result.stdout and "target=16" in result.stdout


def test_answer_first_variant_trains_and_judges_without_reasoning(tmp_path):
    """variants: [..., flex_answer] (the paper's Fig. 5 answer-first ablation) adds one judge built from the
    same teacher samples: its select drops the reasoning (reasoning=false) and its evaluations ask for none;
    no other job gets the recipe."""
    result = subprocess.run(
        [
            *SNAKEMAKE,
            "--directory",
            str(tmp_path),
            "-n",
            "-p",
            "--config",
            "variants=[base,flex,flex_answer]",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    jobs = planned_jobs(result)
    assert jobs["sample"] == 1 and jobs["select"] == jobs["finetune"] == jobs["twin"] == 2
    assert jobs["retention"] == 3 and {g: jobs[g] for g in FLEX_GROUPS} == {g: 3 for g in FLEX_GROUPS}
    commands = [line for line in result.stdout.splitlines() if "-m flexjudge." in line]
    recipe = [c for c in commands if "reasoning=false" in c]
    assert len(recipe) == 1 + len(FLEX_GROUPS)  # its select and its evaluate jobs, nothing else
    assert all("flex_answer" in c and ("flexjudge.select" in c or "flexjudge.evaluate" in c) for c in recipe)
    assert sum("flexjudge.select" in c for c in recipe) == 1


def test_image_text_variant_has_its_own_pool_and_samples(tmp_path):
    """variants: [..., flex_image] (the paper's Table 5 ablation) adds the RLHF-V mini, a curate and a sample
    job of its own (results/curate_image/, results/sample_image/), and a select and finetune that read them;
    the text pool's jobs are as they were."""
    result = subprocess.run(
        [*SNAKEMAKE, "--directory", str(tmp_path), "-n", "-p", "--config", "variants=[base,flex,flex_image]"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    jobs = planned_jobs(result)
    assert jobs["curate"] == jobs["curate_image"] == jobs["sample"] == jobs["sample_image"] == 1
    assert jobs["select"] == jobs["finetune"] == 2
    commands = {
        c.split(" -m ")[1].split()[0]: c
        for c in result.stdout.splitlines()
        if "flexjudge.curate" in c and "curate_image" in c
    }
    image_curate = commands["flexjudge.curate"]
    assert (
        "pool.format=rlhfv" in image_curate and "results/minis/RLHF-V/RLHF-V-Dataset.parquet" in image_curate
    )
    lines = result.stdout.splitlines()
    select = next(c for c in lines if "flexjudge.select" in c and "flex_image" in c)
    assert (
        "samples=results/sample_image/tiny_vl/samples.jsonl" in select
        and "pool=results/curate_image/pool.jsonl" in select
    )
    # the generated command line is valid Hydra (a comma in a value would be read as a sweep)
    from flexjudge.core.app import compose

    args = shlex.split(image_curate.split(" -m flexjudge.curate ", 1)[1].split(" 2>&1")[0])
    cfg = compose("curate", [a for a in args if not a.startswith("hydra.")])
    assert (
        cfg.pool.format == "rlhfv"
        and cfg.heldout_size == 0
        and cfg.pool.license == "synthetic mini made here"
    )
    finetune = next(c for c in lines if "flexjudge.finetune" in c and "flex_image" in c)
    assert "media_root=results/curate_image" in finetune
    text_select = next(c for c in lines if "flexjudge.select" in c and "/flex " in c + " ")
    assert "samples=results/sample/tiny_vl/samples.jsonl" in text_select and "media_root" not in text_select
