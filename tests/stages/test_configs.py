"""Every config group option composes with every stage that uses it; registry and configs agree."""

from pathlib import Path

import pytest
import yaml
from omegaconf import OmegaConf

from flexjudge.backbones.loader import MODEL_CLASSES
from flexjudge.backbones.recipes import RECIPES
from flexjudge.benchmarks.registry import BENCHMARKS
from flexjudge.core.app import CONF_DIR, compose
from flexjudge.judge.metrics import METRICS

STAGES = [
    "provision",
    "curate",
    "sample",
    "select",
    "finetune",
    "evaluate",
    "leaderboard",
    "minis",
    "twin",
    "retention",
]
GROUP_USERS = {
    "backbone": ["provision", "finetune", "evaluate"],
    "benchmark": ["evaluate"],
    "voting": ["evaluate"],
    "budget": ["evaluate"],
    "trainer": ["finetune"],
    "backend": ["sample", "finetune", "evaluate", "retention"],
    "logger": STAGES,
    "paths": STAGES,
}


def options(group):
    """A config group's options: its conf/<group>/*.yaml, or for `benchmark` the registry's nodes."""
    if group == "benchmark":
        return sorted(BENCHMARKS)
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


@pytest.mark.parametrize("stage", STAGES)
def test_stage_composes_and_resolves(stage):
    cfg = compose(stage)
    OmegaConf.resolve(cfg)
    assert cfg.out_dir and cfg.seed == 0


@pytest.mark.parametrize(
    ("group", "stage", "option"),
    [(g, s, o) for g, stages in GROUP_USERS.items() for s in stages for o in options(g)],
)
def test_every_option_composes(group, stage, option):
    cfg = compose(stage, [f"{group}={option}"])
    OmegaConf.resolve(cfg)


@pytest.mark.parametrize("name", options("backbone"))
def test_backbone_configs(name):
    bb = compose("provision", [f"backbone={name}"]).backbone
    assert bb.name == name
    assert bb.model_class in MODEL_CLASSES
    assert bb.source in ("provision", "hub", "local")
    assert (bb.recipe in RECIPES) if bb.source == "provision" else bool(bb.path)
    assert bb.trust_remote_code is False


def test_a_benchmark_is_declared_once_in_the_registry():
    """`benchmark=<name>` composes the registry's node: no conf/benchmark/ file restates it, the
    composed keys are the spec's, and its ${paths...} resolve against the run's paths."""
    assert not (CONF_DIR / "benchmark").exists()
    for name, spec in BENCHMARKS.items():
        cfg = compose("evaluate", [f"benchmark={name}", "paths.benchmarks=/data/official"])
        b = OmegaConf.to_container(cfg.benchmark, resolve=True)
        registry = {
            "name": spec.name,
            "modality": spec.modality,
            "adapter": spec.adapter,
            "options": spec.options,
            "judge_format": spec.judge_format,
            "allow_tie": spec.allow_tie,
            "tie_rule": spec.tie_rule,
            "scale": list(spec.scale) if spec.scale else None,
            "decimals": spec.decimals,
            "aggregation": spec.aggregation,
            **{k: getattr(spec.protocol, k) for k in spec.protocol.__dataclass_fields__},
        }
        drift = {k: (b.get(k), v) for k, v in registry.items() if b.get(k) != v}
        assert not drift, f"benchmark={name} composes other values than its registry entry: {drift}"
        root = str(cfg.paths.results) if spec.curated else "/data/official"
        assert b["path"].startswith(root) and b["media_root"].startswith(root), (name, b["path"])
        assert all(m in METRICS for m in spec.metrics), name


def test_benchmark_nodes_are_typed():
    """A misspelt benchmark key or a wrong type fails at composition, naming the key."""
    with pytest.raises(Exception, match="on_mising"):
        compose("evaluate", ["benchmark=nisqa", "benchmark.on_mising=skip"])
    with pytest.raises(Exception, match="votes"):
        compose("evaluate", ["benchmark=nisqa", "benchmark.votes=many"])


def test_benchmark_overrides_set_one_benchmark_of_a_run():
    from flexjudge.benchmarks.config import with_benchmark_overrides

    cfg = compose(
        "evaluate", ["benchmark=nisqa", "benchmark_overrides={nisqa:['on_missing=skip'],bvcc:['seed=3']}"]
    )
    assert with_benchmark_overrides(cfg).benchmark.on_missing == "skip"
    assert with_benchmark_overrides(cfg).benchmark.seed == 0
    bad = compose("evaluate", ["benchmark=nisqa", "benchmark_overrides={nisqa:['on_mising=skip']}"])
    with pytest.raises(ValueError, match=r"benchmark_overrides.nisqa=\['on_mising=skip'\]"):
        with_benchmark_overrides(bad)


def test_voting_options_match_their_names():
    for name in options("voting"):
        cfg = compose("evaluate", [f"voting={name}"]).voting
        assert cfg.name == name == f"k{cfg.k}"


def test_real_backbone_configs_exist():
    assert {
        "qwen2_5_vl_7b",
        "qwen2_5_vl_3b",
        "qwen2_5_omni_7b",
        "smollm2_vl",
        "tiny_vl",
        "judgelrm_7b",
    } <= set(options("backbone"))
    # the teacher and the select stage name backbones
    for stage in ("sample", "select"):
        assert compose(stage).teacher in options("backbone")
    assert compose("sample", ["teacher=judgelrm_7b"]).judge.endswith("backbones/judgelrm_7b/judge.json")


def test_workflow_grid_names_are_hydra_options():
    grid = yaml.safe_load((Path(CONF_DIR).parent / "workflow" / "config.yaml").read_text())
    for key, group in {
        "backbones": "backbone",
        "benchmarks": "benchmark",
        "voting": "voting",
        "budgets": "budget",
    }.items():
        assert set(grid[key]) <= set(options(group)), key
    assert grid["trainer"] in options("trainer") and grid["logger"] in options("logger")


@pytest.mark.parametrize("name", options("accelerate"))
def test_accelerate_launch_configs_load(name):
    from accelerate.commands.config.config_args import load_config_from_file

    cfg = load_config_from_file(str(CONF_DIR / "accelerate" / f"{name}.yaml"))
    assert cfg.num_processes >= 1 and cfg.num_machines == 1
    assert (cfg.num_processes == 1) == (name == "single")


def test_pairwise_benchmarks_use_the_papers_score_pair_with_a_sourced_tie_rule():
    """The official scripts ask for a 1-10 score per answer on every pairwise benchmark; only GenAI-Bench
    takes the four-way verdict. Each says what equal scores mean, and the A/B verdict stays an option."""
    pairwise = {n: s for n, s in BENCHMARKS.items() if s.judge_format in ("pair_scores", "pair_verdict")}
    assert set(pairwise) >= {
        "mllm_judge_pair", "vl_rewardbench", "mj_bench_alignment", "mj_bench_safety", "mj_bench_quality",
        "mm_rewardbench", "judgelm_val", "pandalm", "hh_harmless_heldout",
    }  # fmt: skip
    for name, spec in pairwise.items():
        assert spec.judge_format == "pair_scores" and spec.scale == (1.0, 10.0), name
        assert spec.tie_rule and "equal scores" in spec.tie_rule, name
        assert "pair_verdict" in spec.alt_formats, name
        assert compose("evaluate", [f"benchmark={name}"]).benchmark.tie_rule == spec.tie_rule, name
    assert {s.judge_format for n, s in BENCHMARKS.items() if n.startswith("genai_bench")} == {"verdict4"}
