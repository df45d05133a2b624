# Helpers shared by the rules: grid checks, Hydra command lines, target lists.
import functools
import re
import shlex
import sys
from pathlib import Path

import yaml

REPO = Path(workflow.basedir)
CONF = Path(os.environ.get("FLEXJUDGE_CONF", REPO / "conf"))
PYTHON = config.get("python") or sys.executable
GRID_GROUPS = {"backbones": "backbone", "voting": "voting", "budgets": "budget"}  # benchmarks: the registry
STAGES = (
    "provision", "curate", "sample", "select", "finetune", "evaluate", "leaderboard", "minis", "twin", "effect",
    "moldata", "import_judge", "policy", "moljudge", "bestofn", "dpo", "molreport", "retention",
)
# Fine-tuned judges: flex (sft_size rows), flex_n<size> (a point of the data-size sweep), and the paper's
# ablations in VARIANT_RECIPES, each trained on the same teacher samples.
FLEX_VARIANT = r"flex(_n[0-9]+|_answer|_image)?"
#: {variant: {stage: [overrides]}}: what a variant changes in its own select and evaluate jobs (and so in
#: everything built from them). flex_answer: the paper's answer-first ablation (Fig. 5 left), SFT targets
#: without the reasoning and evaluation that asks for none.
VARIANT_RECIPES = {
    "base": {},
    "flex": {},
    "flex_answer": {"select": ["reasoning=false"], "evaluate": ["reasoning=false"]},
    # the paper's image-text ablation (Table 5): trained on RLHF-V's image-text pairs (VARIANT_DATA), whose
    # images finetune reads from the image pool's folder
    "flex_image": {"finetune": ["media_root=results/curate_image"]},
}
#: {kind of training data: its curate folder under results/}: the text pool (the paper's data) and RLHF-V's
#: image-text preference pairs; each has its own curate and sample jobs (rules/curate.smk, sample.smk).
TRAINING_DATA = {"text": "curate", "image": "curate_image"}
#: The training data of each variant that does not train on the text pool.
VARIANT_DATA = {"flex_image": "image"}
#: The recipe (VARIANT_RECIPES-style {stage: [overrides]}) of each kind of data's curate and sample jobs.
#: Image-text rows: no held-out split (the held-out benchmark is text), no text near-duplicate filter (rows
#: with the same words show different images).
DATA_RECIPES = {"text": None, "image": "image_data"}
VARIANT_RECIPES["image_data"] = {
    "curate": ["pool.format=rlhfv", "heldout_size=0", "dedup.near_threshold=null", "max_chars=null"],
}


def conf_file(group, name):
    """Path of conf/<group>/<name>.yaml, or a WorkflowError listing the valid names."""
    path = CONF / group / f"{name}.yaml"
    if not path.exists():
        options = sorted(p.stem for p in (CONF / group).glob("*.yaml"))
        raise WorkflowError(f"workflow config: {group} option {name!r} has no {path}; choose from {options}")
    return str(path)


def benchmark_spec(name):
    """A benchmark's registry entry (flexjudge.benchmarks.registry), or a WorkflowError listing the names."""
    from flexjudge.benchmarks.registry import BENCHMARKS

    if name not in BENCHMARKS:
        raise WorkflowError(
            f"workflow config: benchmark {name!r} is not in the registry (flexjudge.benchmarks.registry); "
            f"choose from {sorted(BENCHMARKS)}"
        )
    return BENCHMARKS[name]


def benchmark_node(name):
    """The config a benchmark's evaluations compose (its registry node, then `benchmark_overrides`), as
    JSON: a rule parameter, so a change to one benchmark reruns only the jobs that judge it."""
    import json
    from dataclasses import asdict

    from flexjudge.benchmarks.config import benchmark_config

    node = asdict(benchmark_config(benchmark_spec(name)))
    return json.dumps({**node, "overrides": benchmark_overrides().get(name, [])}, sort_keys=True)


def benchmark_overrides():
    """{benchmark: ["key=value", ...]} of the workflow config, each benchmark checked against the registry."""
    own = config.get("benchmark_overrides") or {}
    for name in own:
        benchmark_spec(name)
    return {name: [str(kv) for kv in kvs] for name, kvs in own.items()}


def check_grid():
    """Fail at start-up if a grid value names no Hydra option or registered benchmark (keys and types are
    the schema's: workflow/schemas/config.schema.yaml, checked by the Snakefile before this)."""
    for key, group in GRID_GROUPS.items():
        for name in config[key]:
            conf_file(group, name)
    for name in [*config["benchmarks"], *(config.get("suite") or [])]:
        benchmark_spec(name)
    benchmark_overrides()
    conf_file("voting", config.get("suite_voting", "k1"))
    overlap = set(config.get("baselines") or []) & {*config["backbones"], *(config.get("audio_twins") or {}).values()}
    if overlap:
        raise WorkflowError(
            f"workflow config: {sorted(overlap)} are both baselines and trained backbones (or their twins); a "
            "baseline is judged base-only in its own format, so list it in one place"
        )
    for name in config.get("baselines") or []:
        conf_file("backbone", name)
        if not backbone_conf(name).get("baseline"):
            raise WorkflowError(
                f"workflow config: baselines lists {name!r}, whose conf/backbone/{name}.yaml names no baseline "
                "format (baseline: llava_critic | prometheus_vision)"
            )
    eval_groups()
    unknown_groups = set(config.get("suite_group_limits") or {}) - set(config.get("suite_groups") or {})
    if unknown_groups:
        raise WorkflowError(
            f"workflow config: suite_group_limits names {sorted(unknown_groups)}, not suite_groups {sorted(config.get('suite_groups') or {})}"
        )
    precision()
    conf_file("budget", config.get("suite_budget", "none"))
    for backbone, twin in (config.get("audio_twins") or {}).items():
        conf_file("backbone", backbone)
        conf_file("backbone", twin)
    audio = [b for b in config.get("suite") or [] if needs_audio_judge(b)]
    for backbone in config["backbones"] if audio else []:
        judge = (config.get("audio_twins") or {}).get(backbone, backbone)
        if "audio" not in backbone_conf(judge).get("processor", ""):
            raise WorkflowError(
                f"workflow config: the suite has audio benchmarks {audio} but backbone {backbone!r} takes no "
                f"audio; give it a twin in audio_twins (e.g. {{{backbone}: <an Omni backbone>}}) or drop them"
            )
    data = config.get("benchmark_data", "minis")
    if data != "minis" and not Path(data).is_dir():
        raise WorkflowError(f"workflow config: benchmark_data={data!r} is neither 'minis' nor a folder")
    conf_file("trainer", config["trainer"])
    conf_file("logger", config["logger"])
    conf_file("accelerate", config.get("accelerate", "single"))
    if config.get("teacher"):
        conf_file("backbone", config["teacher"])
    if not Path(pool_path()).exists():
        raise WorkflowError(f"workflow config: pool {pool_path()} does not exist (set pool: in workflow/config.yaml)")
    effect = config.get("effect")
    if effect:
        for key, allowed in (("benchmark", "benchmarks"), ("voting", "voting"), ("budget", "budgets")):
            if effect.get(key) not in config[allowed]:
                raise WorkflowError(f"workflow config: effect.{key} {effect.get(key)!r} is not in {allowed} {config[allowed]}")
        for key in ("control", "treated"):
            if effect.get(key) not in all_variants():
                raise WorkflowError(f"workflow config: effect.{key} {effect.get(key)!r} is not a variant {all_variants()}")
    for dataset in config.get("retention") or []:
        retention_data(dataset)
    unknown = set(config.get("overrides") or {}) - set(STAGES)
    if unknown:
        raise WorkflowError(f"workflow config: overrides for unknown stages {sorted(unknown)}; stages: {STAGES}")



def finetune_launcher():
    """The command that starts finetune: python for one process, else accelerate with conf/accelerate/<name>.yaml."""
    name = config.get("accelerate", "single")
    if name == "single":
        return PYTHON
    accelerate = Path(PYTHON).with_name("accelerate")
    return f"{accelerate} launch --config_file {shlex.quote(conf_file('accelerate', name))}"


# Groups an evaluate job composes per member (its inputs list each member's files instead).
PER_MEMBER = {"evaluate": ("benchmark", "voting", "budget")}


@functools.lru_cache(maxsize=None)
def default_options(stage):
    """{group: option} that the defaults list of conf/<stage>.yaml chooses."""
    defaults = yaml.safe_load((CONF / f"{stage}.yaml").read_text()).get("defaults") or []
    return {k: v for d in defaults if isinstance(d, dict) for k, v in d.items() if isinstance(v, str)}


def stage_conf(stage, **groups):
    """Conf files a stage's result depends on: its primary config, shared keys, and the option file of every
    config group it composes (the defaults list, then `group=name` in its overrides, then `groups`)."""
    chosen = {g: n for g, n in default_options(stage).items() if g not in PER_MEMBER.get(stage, ())}
    if "logger" in chosen:
        chosen["logger"] = config["logger"]  # hydra_args gives every stage the workflow's logger
    for arg in (config.get("overrides") or {}).get(stage) or []:
        key, _, value = str(arg).partition("=")
        if key in chosen or (key.isidentifier() and (CONF / key).is_dir()):
            chosen[key] = value
    chosen.update(groups)
    return [str(CONF / f"{stage}.yaml"), str(CONF / "stage_common.yaml")] + [
        conf_file(group, name) for group, name in chosen.items() if name not in ("null", "None")
    ]


def job_threads(stage):
    """CPU threads of one job: `eval_threads` for evaluations, `train_threads` for finetune (when set), else
    `threads`."""
    own = {"evaluate": "eval_threads", "finetune": "train_threads"}.get(stage)
    if own and config.get(own):
        return int(config[own])
    return int(config["threads"])


def precision():
    """fp32 or bf16 for the model jobs (workflow config `precision`; auto: bf16 only on a CPU with bf16
    units, since CPUs without them run bf16 at ~1 GFLOP/s)."""
    value = config.get("precision", "fp32")  # one of fp32, bf16, auto (workflow/schemas/config.schema.yaml)
    if value == "auto":
        from flexjudge.core.cpu import cpu_has_bf16

        return "bf16" if cpu_has_bf16() else "fp32"
    return value


def precision_overrides(stage):
    """The overrides that make a stage run in bf16 (none for fp32): judging and training."""
    if precision() != "bf16":
        return []
    bf16 = ["backend.dtype=bfloat16"]
    return {"sample": bf16, "evaluate": bf16, "retention": bf16, "finetune": ["trainer.bf16=true"]}.get(stage, [])


def data_of(variant):
    """The kind of training data a variant is fine-tuned on (VARIANT_DATA; text unless listed)."""
    return VARIANT_DATA.get(variant, "text")


def sample_folder(data):
    """The sample folder under results/ of a kind of training data (sample, sample_image)."""
    return TRAINING_DATA[data].replace("curate", "sample")


def training_pool_file(data):
    """The pool file a kind of training data is curated from: the text pool, or RLHF-V's parquet (the
    workflow config's `image_pool`; null: the RLHF-V mini the minis rule builds)."""
    if data == "text":
        return pool_path()
    own = config.get("image_pool")
    return str(REPO / own) if own else "results/minis/RLHF-V/RLHF-V-Dataset.parquet"


def training_pool_license(data):
    """The curate override naming an image-text pool's license in its manifest (the text pool's is in
    conf/curate.yaml)."""
    if data == "text":
        return {}
    return {"pool.license": "see the RLHF-V dataset card" if config.get("image_pool") else "synthetic mini made here"}


def mini_items(family):
    """n_items of a mini family: `minis_items`, or for the RLHF-V mini (a training pool, not a benchmark)
    `image_pool_rows`."""
    if family == "rlhfv":
        return int(config.get("image_pool_rows", 120))
    return int(config.get("minis_items", 12))


def training_pool(data):
    """What a curate job reads: its pool file, or the record of the mini that the minis rule writes with it."""
    if data == "image" and not config.get("image_pool"):
        return "results/minis/made/rlhfv.json"
    return training_pool_file(data)


def variant_overrides(stage, variant):
    """The overrides a variant's recipe gives one stage (VARIANT_RECIPES; none for flex_n<size>)."""
    return list(VARIANT_RECIPES.get(variant, {}).get(stage, []))


def job_settings(stage, variant=None, **extra):
    """What a stage's results depend on in the workflow config beyond its input files: its `overrides`, the
    precision and the `extra` values its command line takes from the config. A rule parameter that names
    no input or output, so Snakemake records it and a change reruns exactly that stage's jobs (a parameter
    computed from input or output, like `args`, is not recorded). Threads and the logger are left out:
    they change no result."""
    own = list((config.get("overrides") or {}).get(stage) or []) + precision_overrides(stage)
    return own + variant_overrides(stage, variant) + [f"{k}={v}" for k, v in sorted(extra.items())]


def hydra_args(threads, stage, out_dir, recipe=None, **overrides):
    """Command-line overrides for one job: grid choices, paths, precision, per-stage extras, the overrides of
    the variant `recipe` (VARIANT_RECIPES), the run dir, and the job's own thread count (the rule's, or the
    profile's `set-threads`: what the scheduler gave it)."""
    args = [f"{k}={v}" for k, v in overrides.items()]
    args += [f"out_dir={out_dir}", f"logger={config['logger']}", f"threads={threads}"]
    args += precision_overrides(stage)
    args += list((config.get("overrides") or {}).get(stage) or [])
    args += variant_overrides(stage, recipe)  # after the config's: the recipe decides
    args.append(f"hydra.run.dir={out_dir}")
    return " ".join(shlex.quote(a) for a in args)


def judge_manifest(backbone, variant):
    """judge.json of a judge: the provisioned backbone (base), its fine-tuned checkpoint (flex, flex_n<size>),
    or for an audio twin the fine-tuned LLM moved into the twin."""
    if variant == "base":
        return f"results/backbones/{backbone}/judge.json"
    if backbone in (config.get("audio_twins") or {}).values():
        return f"results/twins/{backbone}/{variant}/judge.json"
    return f"results/finetune/{backbone}/{variant}/judge.json"


def data_sizes():
    """The sizes of the data-size sweep (workflow config `data_sizes`)."""
    return [int(n) for n in config.get("data_sizes") or []]


def all_variants():
    """The configured variants plus flex_n<size> for each size of the data-size sweep."""
    return list(config["variants"]) + [f"flex_n{n}" for n in data_sizes()]


def sft_size(variant):
    """SFT rows of a fine-tuned variant: sft_size for flex, <size> for flex_n<size>."""
    sized = re.fullmatch(r"flex_n(\d+)", variant)
    if sized:
        return int(sized.group(1))
    return int(config.get("sft_size", 1000))


def teacher_of(backbone):
    """The backbone whose samples train a judge: the configured teacher, else the judge's own backbone."""
    return config.get("teacher") or backbone


def pool_path():
    """The text pool the curate stage reads (workflow/config.yaml `pool`, relative to the repo)."""
    return str(REPO / config.get("pool", "data/hh-rlhf-harmless-base/test.jsonl.gz"))


def decontamination_inputs():
    """What decontamination reads: every mini family when the suite runs on minis (real releases: none)."""
    if config.get("benchmark_data", "minis") != "minis":
        return []
    from flexjudge.benchmarks.synthetic import FAMILIES

    return [f"results/minis/made/{family}.json" for family in FAMILIES]


def twin_source(twin):
    """The backbone whose fine-tuned LLM an audio twin takes."""
    return next(b for b, t in (config.get("audio_twins") or {}).items() if t == twin)


def benchmark_modality(name):
    """A benchmark's modality (its registry entry)."""
    return benchmark_spec(name).modality


def needs_audio_judge(name):
    """Whether a benchmark is judged by the audio twin: audio benchmarks, and mixed ones (modality any)."""
    return benchmark_modality(name) in ("audio", "any")


def backbone_conf(name):
    """A backbone's conf file as a dict."""
    import yaml

    return yaml.safe_load(Path(conf_file("backbone", name)).read_text())


def benchmark_input(name):
    """What an evaluation of a benchmark reads: the split curate writes, or the built mini family."""
    spec = benchmark_spec(name)
    if spec.curated:
        return spec.path.replace("${paths.results}", "results")
    if config.get("benchmark_data", "minis") == "minis":
        from flexjudge.benchmarks.synthetic import family_of

        return f"results/minis/made/{family_of(name)}.json"
    return []


def benchmark_root():
    """paths.benchmarks for the evaluate jobs."""
    data = config.get("benchmark_data", "minis")
    return "results/minis" if data == "minis" else str(Path(data).resolve())


def suite_judge(backbone, name):
    """The judge backbone of a suite benchmark: the backbone's audio twin for audio, else the backbone."""
    if needs_audio_judge(name):
        return (config.get("audio_twins") or {}).get(backbone, backbone)
    return backbone


def eval_groups():
    """{group: [(benchmark, voting, budget), ...]}: the evaluations one judge runs in one process.
    `grid` is the benchmarks x voting x budgets grid; each `suite_groups` entry takes the suite
    benchmarks of its modalities (those also in the grid are judged there, once)."""
    groups = {}
    grid = [(b, v, g) for b in config["benchmarks"] for v in config["voting"] for g in config["budgets"]]
    if grid:
        groups["grid"] = grid
    suite = [b for b in config.get("suite") or [] if b not in config["benchmarks"]]
    voting, budget = config.get("suite_voting", "k1"), config.get("suite_budget", "none")
    placed = set()
    for group, modalities in (config.get("suite_groups") or {}).items():
        members = [b for b in suite if benchmark_modality(b) in modalities]
        if len({needs_audio_judge(b) for b in members}) > 1:
            raise WorkflowError(
                f"workflow config: suite_groups {group!r} mixes audio {modalities}; audio is judged by the "
                "audio twins, so give it a group of its own"
            )
        placed.update(members)
        if members:
            groups[f"suite_{group}"] = [(b, voting, budget) for b in members]
    unplaced = sorted(set(suite) - placed)
    if unplaced:
        raise WorkflowError(
            f"workflow config: suite benchmarks {unplaced} have a modality that no suite_groups entry "
            f"lists; suite_groups: {config.get('suite_groups')}"
        )
    for name in config.get("baselines") or []:  # each baseline judge: what it can judge, base only
        # the grid's benchmarks at all their items, the suite's at the suite's limit (two groups)
        for group, pool in ((f"baseline_grid_{name}", config["benchmarks"]), (f"baseline_{name}", suite)):
            members = [b for b in pool if baseline_can_judge(name, b)]
            if members:
                groups[group] = [(b, voting, "none") for b in members]
    return groups


def baseline_of(group):
    """The baseline judge of a baseline eval group (baseline_<name>, baseline_grid_<name>), else None."""
    for prefix in ("baseline_grid_", "baseline_"):
        if group.startswith(prefix):
            return group.removeprefix(prefix)
    return None


def baseline_can_judge(backbone, benchmark):
    """Whether a baseline judge (a backbone config with `baseline`) has a format for the benchmark's kind and
    takes its modality (flexjudge.protocol.baselines.BASELINE_FORMATS; the backbone's processor)."""
    from flexjudge.backbones.loader import processor_kinds
    from flexjudge.protocol.baselines import BASELINE_FORMATS

    spec = benchmark_spec(benchmark)
    own = BASELINE_FORMATS[backbone_conf(backbone)["baseline"]]
    takes = spec.modality in ("text", "molecule") or spec.modality in processor_kinds(backbone_conf(backbone)["processor"])
    return takes and spec.judge_format in own


def group_evaluations(group):
    """The '<benchmark>/<voting>/<budget>' entries of an eval group (its evaluate `evaluations`)."""
    return [f"{b}/{v}/{g}" for b, v, g in eval_groups()[group]]


def group_benchmarks(group):
    """The benchmarks an eval group judges, sorted."""
    return sorted({b for b, _, _ in eval_groups()[group]})


def group_overrides(group):
    """Extra evaluate overrides of an eval group: the item limit of suite groups (`suite_group_limits` for the
    group, else `suite_limit`), and the `benchmark_overrides` of its members."""
    extra = {}
    limit = (config.get("suite_group_limits") or {}).get(group.removeprefix("suite_"), config.get("suite_limit"))
    if (group.startswith("suite_") or baseline_of(group) and not group.startswith("baseline_grid_")) and limit is not None:
        extra["limit"] = limit
    own = {b: kvs for b, kvs in benchmark_overrides().items() if b in group_benchmarks(group)}
    if own:
        extra["benchmark_overrides"] = "{" + ",".join(
            f"{b}:[" + ",".join("'" + kv.replace("'", "\\'") + "'" for kv in kvs) + "]" for b, kvs in own.items()
        ) + "}"
    return extra


def group_priority(group):
    """Scheduling priority of an eval group's jobs: its number of evaluations, at most 9 (below the path to the
    fine-tuned judge, 10), so the longest groups start first and the last ones fill the other core."""
    return min(9, len(eval_groups()[group]))


def group_judges(group):
    """The judge backbones that run an eval group (an audio suite group runs on the audio twins)."""
    benchmark = eval_groups()[group][0][0]
    if baseline_of(group):
        return [baseline_of(group)]
    if group == "grid":
        return list(config["backbones"])
    return sorted({suite_judge(b, benchmark) for b in config["backbones"]})


def eval_metrics():
    """metrics.json of every evaluation of every group, for each judge that runs the group."""
    paths = []
    for group, members in eval_groups().items():
        for backbone in group_judges(group):
            for variant in ["base"] if baseline_of(group) else all_variants():
                paths += [
                    f"results/eval/{backbone}/{variant}/{b}/{v}/{g}/metrics.json" for b, v, g in members
                ]
    return list(dict.fromkeys(paths))


def retention_data(dataset):
    """The release file or folder of a VQA retention dataset: under results/minis, or under benchmark_data."""
    from flexjudge.benchmarks.vqa import VQA_DATASETS

    if dataset not in VQA_DATASETS:
        raise WorkflowError(f"workflow config: retention dataset {dataset!r}: choose from {sorted(VQA_DATASETS)}")
    root = "results/minis" if config.get("benchmark_data", "minis") == "minis" else benchmark_root()
    return f"{root}/{VQA_DATASETS[dataset][1]}"


def retention_input(dataset):
    """What a retention job reads besides its judge: the dataset's built mini (real releases: nothing to build)."""
    return f"results/minis/made/{dataset}.json" if config.get("benchmark_data", "minis") == "minis" else []


def retention_extra():
    """The retention jobs' overrides from the workflow config: `retention_limit` when set."""
    limit = config.get("retention_limit")
    return {} if limit is None else {"limit": limit}


def retention_metrics():
    """metrics.json of every retention run: each backbone x variant x `retention` dataset."""
    return [
        f"results/retention/{b}/{v}/{d}/metrics.json"
        for b in config["backbones"]
        for v in all_variants()
        for d in config.get("retention") or []
    ]


def effect_predictions(backbone, variant):
    """predictions.jsonl of one judge in the effect comparison (workflow config `effect`)."""
    e = config["effect"]
    return f"results/eval/{backbone}/{variant}/{e['benchmark']}/{e['voting']}/{e['budget']}/predictions.jsonl"


# -- the molecular application (workflow config `molecules`) ---------------------------------------------
#: The policy's answer sets: split, how many answers per molecule and at what temperature (the pair draws'
#: temperatures come from the config's pair_temperatures).
DRAWS = {
    "greedy": {"split": "test"},
    "candidates": {"split": "test"},
    "pair_low": {"split": "train"},
    "pair_high": {"split": "train"},
}
#: Judges of the molecular application: a model judge (a judge.json) or a control on the simulated backend.
MOL_CONTROLS = {"oracle": ["backend.error_rate=0"], "random": ["backend.error_rate=0", "hide_gold=true"]}


def mol_conf():
    """The workflow config's `molecules` section (None when the application is off)."""
    return config.get("molecules")


def draw_settings(draw):
    """The policy stage's n and temperature for one answer set."""
    m = mol_conf()
    if draw == "greedy":
        return {"n": 1, "temperature": 0.0}
    if draw == "candidates":
        return {"n": m["candidates"], "temperature": m["temperature"]}
    low, high = m["pair_temperatures"]
    return {"n": 1, "temperature": low if draw == "pair_low" else high}


def policy_manifest(task, policy):
    """judge.json of a policy: `base` (the configured policy backbone) or `dpo_<judge>` (trained on its pairs)."""
    if policy == "base":
        return f"results/backbones/{mol_conf()['policy']}/judge.json"
    if policy.startswith("dpo_"):
        return f"results/molecules/{task}/dpo/{policy[4:]}/judge.json"
    raise WorkflowError(f"policy {policy!r}: base or dpo_<judge>")


def mol_judge_manifest(judge):
    """judge.json a molecular judge reads: flex (the FLEX judge imported into the molecular backbone), base
    (the molecular backbone itself); none for the simulated controls."""
    m = mol_conf()
    if judge in MOL_CONTROLS:
        return []
    if not m.get("judge_backbone"):  # no molecular LLM: the judge itself, reading the SMILES as text
        return judge_manifest(m["source_judge"], judge)
    if judge == "base":
        return f"results/backbones/{m['judge_backbone']}/judge.json"
    return f"results/molecules/judges/{m['judge_backbone']}/{judge}/judge.json"


def mol_judge_backend(judge):
    """The backend a molecular judge runs on."""
    return "simulated" if judge in MOL_CONTROLS else "hf"


def judge_paths(judges, paths):
    """A Hydra dict override {judge:path,...} of one path per judge, in order."""
    return "{" + ",".join(f"{j}:{p}" for j, p in zip(judges, paths, strict=True)) + "}"


def mol_judge_args(judge, manifest):
    """moljudge overrides of one judge: its backend (+ the control's settings) and its judge.json."""
    if judge in MOL_CONTROLS:
        return {"backend": "simulated", **dict(kv.split("=", 1) for kv in MOL_CONTROLS[judge])}
    return {"backend": "hf", "judge": manifest}


def mol_targets():
    """The molecular application's summary (none when it is off)."""
    m = mol_conf()
    return [f"results/molecules/{m['task']}/summary.{ext}" for ext in ("json", "md", "png")] if m else []


def check_molecules():
    """Fail at start-up on a molecules section naming unknown options."""
    m = mol_conf()
    if not m:
        return
    conf_file("moltask", m["task"])
    conf_file("backbone", m["policy"])
    if m.get("judge_backbone") and "molecule" not in backbone_conf(m["judge_backbone"]).get("processor", ""):
        raise WorkflowError(f"workflow config: molecules.judge_backbone {m['judge_backbone']!r} takes no molecules")
    for j in [*m["judges"], *m["dpo_judges"]]:
        if j not in MOL_CONTROLS and j not in ("base", *all_variants()):
            raise WorkflowError(f"workflow config: molecules judge {j!r}: one of {sorted(MOL_CONTROLS)}, base or a variant")
    if m["candidates"] < max(m["ns"]):
        raise WorkflowError(f"workflow config: molecules.ns {m['ns']} exceeds candidates={m['candidates']}")


def final_targets():
    """The final targets: the leaderboard, and with an `effect` comparison configured its report per backbone."""
    targets = expand("results/leaderboard/leaderboard.{ext}", ext=["csv", "md", "png"]) + ["results/leaderboard/index.html"]
    if config.get("effect"):
        targets += expand("results/effect/{backbone}/effect.{ext}", backbone=config["backbones"], ext=["json", "md", "png"])
    return targets + mol_targets()


check_grid()
check_molecules()
