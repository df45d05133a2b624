# Helpers shared by the rules: grid checks, Hydra command lines, target lists.
import shlex
import sys
from pathlib import Path

REPO = Path(workflow.basedir)
CONF = Path(os.environ.get("FLEXJUDGE_CONF", REPO / "conf"))
PYTHON = config.get("python") or sys.executable
GRID_GROUPS = {"backbones": "backbone", "benchmarks": "benchmark", "voting": "voting", "budgets": "budget"}
STAGES = ("provision", "curate", "sample", "finetune", "evaluate", "leaderboard")


def conf_file(group, name):
    """Path of conf/<group>/<name>.yaml, or a WorkflowError listing the valid names."""
    path = CONF / group / f"{name}.yaml"
    if not path.exists():
        options = sorted(p.stem for p in (CONF / group).glob("*.yaml"))
        raise WorkflowError(f"workflow config: {group} option {name!r} has no {path}; choose from {options}")
    return str(path)


def check_grid():
    """Fail at start-up if a grid value names no Hydra option or a variant is unknown."""
    for key, group in GRID_GROUPS.items():
        for name in config[key]:
            conf_file(group, name)
    conf_file("trainer", config["trainer"])
    conf_file("logger", config["logger"])
    conf_file("accelerate", config.get("accelerate", "single"))
    bad = set(config["variants"]) - {"base", "flex"}
    if bad:
        raise WorkflowError(f"workflow config: variants {sorted(bad)} unknown; use base and/or flex")
    unknown = set(config.get("overrides") or {}) - set(STAGES)
    if unknown:
        raise WorkflowError(f"workflow config: overrides for unknown stages {sorted(unknown)}; stages: {STAGES}")


check_grid()


def finetune_launcher():
    """The command that starts finetune: python for one process, else accelerate with conf/accelerate/<name>.yaml."""
    name = config.get("accelerate", "single")
    if name == "single":
        return PYTHON
    accelerate = Path(PYTHON).with_name("accelerate")
    return f"{accelerate} launch --config_file {shlex.quote(conf_file('accelerate', name))}"


def stage_conf(stage, **groups):
    """Conf files a stage's result depends on: its primary config, shared keys, and chosen options."""
    return [str(CONF / f"{stage}.yaml"), str(CONF / "stage_common.yaml")] + [
        conf_file(group, name) for group, name in groups.items()
    ]


def hydra_args(stage, out_dir, **overrides):
    """Command-line overrides for one job: grid choices, paths, per-stage extras, the run dir."""
    args = [f"{k}={v}" for k, v in overrides.items()]
    args += [f"out_dir={out_dir}", f"logger={config['logger']}", f"threads={config['threads']}"]
    args += list((config.get("overrides") or {}).get(stage) or [])
    args.append(f"hydra.run.dir={out_dir}")
    return " ".join(shlex.quote(a) for a in args)


def judge_manifest(backbone, variant):
    """judge.json of a judge: the provisioned backbone (base) or its fine-tuned checkpoint (flex)."""
    if variant == "base":
        return f"results/backbones/{backbone}/judge.json"
    return f"results/finetune/{backbone}/judge.json"


def eval_metrics():
    """metrics.json of every grid point."""
    return expand(
        "results/eval/{backbone}/{variant}/{benchmark}/{voting}/{budget}/metrics.json",
        backbone=config["backbones"],
        variant=config["variants"],
        benchmark=config["benchmarks"],
        voting=config["voting"],
        budget=config["budgets"],
    )


def leaderboard_outputs():
    """The final targets."""
    return expand("results/leaderboard/leaderboard.{ext}", ext=["csv", "md", "png"])
