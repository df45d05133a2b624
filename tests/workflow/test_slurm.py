"""The cluster path on a real SLURM: a one-node cluster (tests/slurm/cluster.sh: Debian's slurmctld, slurmd and
munge, started by hand) runs the tiny workflow through workflow/profiles/slurm, changed only in what that node
needs. Every job goes through `sbatch` with its rule's resources from the profile, and the leaderboard equals a
local run's. Needs root (it starts daemons and may apt-install them); elsewhere it is skipped with that reason."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from flexjudge import REPO_ROOT

pytestmark = pytest.mark.slow
PROFILE = REPO_ROOT / "workflow" / "profiles" / "slurm" / "config.yaml"
CLUSTER = REPO_ROOT / "tests" / "slurm" / "cluster.sh"
TINY = REPO_ROOT / "tests" / "fixtures" / "workflow_tiny.yaml"
#: Rules that load a model or train: each needs its own entry in the profile's set-resources.
MODEL_RULES = {"provision", "sample", "finetune", "twin", "effect", "import_judge", "policy_answers"}
MODEL_RULES |= {"score_answers", "judge_pairs", "dpo", "evaluate_grid", "evaluate_suite_text"}
MODEL_RULES |= {"evaluate_suite_vision", "evaluate_suite_audio"}


def snakemake(workdir: Path, conf: Path, *args: str, env: dict | None = None, timeout: int = 1200):
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO_ROOT / "Snakefile"), "--directory", str(workdir)]
    full_env = {**os.environ, "FLEXJUDGE_CONF": str(conf), "WANDB_SILENT": "true", **(env or {})}
    return subprocess.run(
        [*cmd, *args], env=full_env, capture_output=True, text=True, timeout=timeout, cwd=workdir.parent
    )


def rule_names(*configs: Path) -> set[str]:
    """Every rule of the workflow under these configs (eval groups make rule names per config)."""
    names: set[str] = set()
    for config in configs:
        out = subprocess.run(
            [sys.executable, "-m", "snakemake", "-s", str(REPO_ROOT / "Snakefile"), "--list-rules"]
            + ["--configfile", str(config)],
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            env={**os.environ, "FLEXJUDGE_CONF": str(REPO_ROOT / "conf")},
        )
        assert out.returncode == 0, out.stderr[-2000:]
        names |= set(re.findall(r"^(\w+)(?: \(|$)", out.stdout, re.M))  # "name (its docstring …"
    return names


def test_the_profile_names_real_rules_and_sizes_every_model_rule():
    """A set-resources key that names no rule is silently ignored by Snakemake (the job then gets the default
    resources): every key must be a rule of the demo, molecules or effect DAG, and every model rule needs one."""
    profile = yaml.safe_load(PROFILE.read_text())
    rules = rule_names(
        REPO_ROOT / "workflow" / "config.yaml",
        REPO_ROOT / "workflow" / "molecules.yaml",
        TINY,
        REPO_ROOT / "tests" / "fixtures" / "workflow_molecules.yaml",
    )
    assert rules | {"effect"} >= MODEL_RULES, MODEL_RULES - rules
    for section in ("set-resources", "set-threads"):
        assert set(profile[section]) <= rules, set(profile[section]) - rules
    assert set(profile["set-resources"]) >= MODEL_RULES, MODEL_RULES - set(profile["set-resources"])


def node_size() -> tuple[int, int]:
    """CPUs and memory (MB) of this machine as slurmd sees it."""
    out = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout
    fields = dict(kv.split("=", 1) for kv in out.split() if "=" in kv)
    return int(fields["CPUs"]), int(fields["RealMemory"])


def one_node_profile(folder: Path, cpus: int, mem_mb: int) -> Path:
    """workflow/profiles/slurm/config.yaml with only what a one-node test cluster needs changed: an account and
    partition, squeue for status (no slurmdbd), short status intervals, no GPUs, CPUs and memory capped to the
    node (a quarter of its memory per job, so jobs do not queue on memory)."""
    profile = yaml.safe_load(PROFILE.read_text())
    cap = mem_mb // 4

    def fit(res: dict) -> dict:
        res = {k: v for k, v in res.items() if k != "gpu"}
        if "mem_mb" in res:
            res["mem_mb"] = min(int(res["mem_mb"]), cap)
        if "cpus_per_task" in res:
            res["cpus_per_task"] = min(int(res["cpus_per_task"]), cpus)
        return res

    profile["default-resources"] = {
        **fit(profile["default-resources"]),
        "slurm_account": "flexjudge-test",
        "slurm_partition": "test",
    }
    profile["set-resources"] = {rule: fit(res) for rule, res in profile["set-resources"].items()}
    profile["set-threads"] = {rule: min(int(n), cpus) for rule, n in profile["set-threads"].items()}
    profile |= {
        "slurm-status-command": "squeue",
        "slurm-init-seconds-before-status-checks": 2,
        "seconds-between-status-checks": 2,
        "latency-wait": 5,
        "retries": 0,
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))
    return folder


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A one-node cluster brought up for this module (torn down after); its config is /etc/slurm/slurm.conf."""
    if os.geteuid() != 0:
        pytest.skip("the SLURM test starts munge and the SLURM daemons, which needs root (CI runs as root)")
    if (
        Path("/etc/slurm/slurm.conf").exists()
        and "flexjudge" not in Path("/etc/slurm/slurm.conf").read_text()
    ):
        pytest.skip(
            "this machine has its own SLURM (/etc/slurm/slurm.conf); the test brings up its own cluster"
        )
    if shutil.which("slurmd") is None and shutil.which("apt-get") is None:
        pytest.skip("no SLURM packages and no apt-get to install them (Debian: slurmctld slurmd munge)")
    state = tmp_path_factory.mktemp("slurm") / "state"
    up = subprocess.run(["bash", str(CLUSTER), "up", str(state)], capture_output=True, text=True, timeout=600)
    assert up.returncode == 0, up.stdout + up.stderr
    yield state
    subprocess.run(["bash", str(CLUSTER), "down", str(state)], capture_output=True, text=True, timeout=60)


def test_the_tiny_workflow_runs_through_sbatch_with_its_resources(cluster, tmp_path):
    conf = tmp_path / "conf"
    shutil.copytree(REPO_ROOT / "conf", conf)
    # sbatch itself, with each call recorded on the way
    shim = tmp_path / "bin"
    shim.mkdir()
    calls = tmp_path / "sbatch_calls.txt"
    real = shutil.which("sbatch")
    (shim / "sbatch").write_text(f'#!/bin/sh\necho "$*" >> {shlex.quote(str(calls))}\nexec {real} "$@"\n')
    (shim / "sbatch").chmod(0o755)
    cpus, mem = node_size()
    profile = one_node_profile(tmp_path / "profile", cpus, mem)
    env = {"PATH": f"{shim}:{os.environ['PATH']}"}

    on_slurm = snakemake(
        tmp_path / "slurm", conf, "--profile", str(profile), "--configfile", str(TINY), env=env
    )
    assert on_slurm.returncode == 0, on_slurm.stdout[-4000:] + on_slurm.stderr[-4000:]
    local = snakemake(tmp_path / "local", conf, "--cores", "2", "--configfile", str(TINY))
    assert local.returncode == 0, local.stdout[-3000:] + local.stderr[-3000:]

    # the same results: leaderboard table and text, byte for byte
    for name in ("leaderboard.csv", "leaderboard.md"):
        a = (tmp_path / "local" / "results" / "leaderboard" / name).read_bytes()
        assert (tmp_path / "slurm" / "results" / "leaderboard" / name).read_bytes() == a, name

    # every job went through sbatch, with its rule's resources from the profile
    settings = yaml.safe_load((profile / "config.yaml").read_text())
    submitted: dict[str, list[str]] = {}
    for line in calls.read_text().splitlines():
        rule = re.search(r"--comment '?rule_(\w+?)(?:_wildcards_\S*)?'?(?:\s|$)", line)
        assert rule, line
        submitted.setdefault(rule[1], []).append(line)
    ran = set(re.findall(r"^(?:local)?rule (\w+):", local.stdout + local.stderr, re.M)) - {"all"}
    assert ran and ran <= set(submitted), ran - set(submitted)
    commands: dict[str, list[str]] = {}
    printed = on_slurm.stdout + on_slurm.stderr
    for m in re.finditer(r"^rule (\w+):$.*?^Shell command: ([^\n]*)", printed, re.M | re.S):
        commands.setdefault(m[1], []).append(m[2])
    for rule, lines in submitted.items():
        want = {**settings["default-resources"], **settings["set-resources"].get(rule, {})}
        threads = settings["set-threads"].get(rule)
        for line in lines:
            assert f"--mem {want['mem_mb']}" in line, (rule, line)
            assert f"-t {want['runtime']}" in line or f"-t '{want['runtime']}'" in line, (rule, line)
            assert f"--cpus-per-task={want['cpus_per_task']}" in line, (rule, line)
            assert "-A flexjudge-test" in line or "--account flexjudge-test" in line, (rule, line)
            assert "-p test" in line or "--partition test" in line, (rule, line)
        if threads:  # the scheduler's thread count reached the stage (threads=… on its command line)
            assert commands[rule] and all(f" threads={threads} " in c for c in commands[rule]), rule
    assert {"sample", "finetune", "evaluate_grid"} <= set(submitted)
