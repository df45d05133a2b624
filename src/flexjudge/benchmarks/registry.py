"""One registry of benchmarks with their metadata, protocol and data location: a benchmark is declared here
once, and `benchmark=<name>` composes its node (flexjudge.benchmarks.config).

A benchmark names its adapter (how its official files are read, `ADAPTERS`), its judge format, its
metrics (the first is the headline), the protocol of the paper (docs/benchmarks.md: sampling, votes, order
policy, media sizes) and where its reference numbers are in reference/paper_results.csv.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flexjudge.benchmarks import anything, audio, molecules, text, vision
from flexjudge.benchmarks.base import Adapter

ADAPTERS: dict[str, Adapter] = {
    "mllm_judge": vision.MLLM_JUDGE,
    "vl_rewardbench": vision.VL_REWARDBENCH,
    "mj_bench": vision.MJ_BENCH,
    "genai_bench": vision.GENAI_BENCH,
    "mm_rewardbench": vision.MM_REWARDBENCH,
    "nisqa": audio.NISQA,
    "bvcc": audio.BVCC,
    "somos": audio.SOMOS,
    "voxsim": audio.VOXSIM,
    "judgelm_val": text.JUDGELM_VAL,
    "pandalm": text.PANDALM,
    "hh_heldout": text.HH_HELDOUT,
    "pampa": molecules.PAMPA,
    "judge_anything": anything.JUDGE_ANYTHING,
}

#: The folder of the official copies (or the built minis), a Hydra interpolation resolved per run.
BENCHMARKS_DIR = "${paths.benchmarks}"
IMAGE_448 = 448 * 448
IMAGE_336 = 336 * 336
VIDEO_224 = 224 * 224


@dataclass(frozen=True)
class Protocol:
    """How the paper runs a benchmark: sampling, votes (runs), answer order and media sizes."""

    temperature: float = 0.6
    top_p: float = 0.95
    votes: int = 1  # the paper's runs per item (seeds 0..votes-1), combined by `aggregation`
    order: str = "random"  # random (seeded per item) | original | reversed | both
    image_max_pixels: int = IMAGE_448
    video_fps: float = 1.0
    video_max_pixels: int = VIDEO_224
    audio_rate: int = 16_000


@dataclass(frozen=True)
class BenchmarkSpec:
    """A benchmark: modality, adapter (+ options), judge format, metrics (the first is the headline),
    protocol, and its key in reference/paper_results.csv (with our metric for each paper metric)."""

    name: str
    modality: str  # text | image | video | audio | molecule (SMILES in the text) | any (mixed per item)
    adapter: str  # key of ADAPTERS
    judge_format: str  # the protocol's format: pair_verdict | pair_scores | verdict4 | score | batch
    metrics: tuple[str, ...]
    description: str
    protocol: Protocol = Protocol()
    options: dict[str, Any] = field(default_factory=dict)  # adapter options (setting, task, split files)
    aggregation: str = "majority"
    allow_tie: bool = True
    scale: tuple[float, float] | None = None  # score range of score formats
    decimals: int = 0  # score decimals
    paper_key: str | None = None
    # formats a run may choose instead (benchmark.judge_format=...): allowed, recorded as a deviation
    alt_formats: tuple[str, ...] = ()
    # what equal scores of a score pair mean here, and the source of that rule
    tie_rule: str | None = None
    # "subset/metric" in the paper table → our metric, or "<metric>@<subset>" for one of our subsets
    paper_metrics: dict[str, str] = field(default_factory=dict)
    # the family of offline mini benchmarks that builds its mini (benchmarks.synthetic.FAMILIES); None: no
    # mini (the held-out set is made by curate)
    mini: str | None = None
    # where its files are: the official file or folder, and the folder media paths are relative to
    # (${paths.benchmarks}: the folder of official copies, or the built minis; laid out as each release is)
    path: str = ""
    media_root: str = ""
    # the split the curate stage writes (the held-out pairs): no mini, and disjoint from the pool by construction
    curated: bool = False

    def __post_init__(self):
        if not (self.path and self.media_root):
            raise ValueError(f"benchmark {self.name}: the registry entry needs path and media_root")
        if self.curated == (self.mini is not None):
            raise ValueError(f"benchmark {self.name}: exactly one of curated and mini (its data's maker)")

    @property
    def headline(self) -> str:
        """The metric the benchmark is ranked by: its first (the one definition; leaderboard and logs use it)."""
        return self.metrics[0]


# Every pairwise benchmark is judged in the paper's score-pair protocol: a 1-10 score per answer in its own
# <answer> tag, the higher score wins (the official scripts test/*_vllm.py ask for this on all of them).
# Equal scores are always a tie verdict, never a parse failure; where the gold has no ties, a tie is wrong.
SCORE_PAIR = {"judge_format": "pair_scores", "scale": (1.0, 10.0), "alt_formats": ("pair_verdict",)}
TIE_IS_A_CLASS = "equal scores = tie, a class of the gold"
TIE_IS_WRONG = "equal scores = tie verdict, counted wrong (the gold has no ties)"

PAIR_METRICS = (
    "accuracy",
    "accuracy_without_tie",
    "macro_f1",
    "parse_failure_rate",
    "tie_rate",
    "first_position_rate",
    "n_items",
)
PREFERENCE_METRICS = (
    "accuracy",
    "macro_accuracy",
    "run_mean_accuracy",
    "parse_failure_rate",
    "first_position_rate",
    "n_items",
)
SCORE_METRICS = ("pearson", "spearman", "sys_lcc", "sys_srcc", "parse_failure_rate", "n_items")


def _mllm(
    setting: str, fmt: str, metrics: tuple[str, ...], paper: dict[str, str], **kw: Any
) -> BenchmarkSpec:
    return BenchmarkSpec(
        name=f"mllm_judge_{setting}",
        mini="mllm_judge",
        modality="image",
        adapter="mllm_judge",
        judge_format=fmt,
        metrics=metrics,
        description=f"MLLM-as-a-Judge, {setting} setting: 14 image-instruction sources, human labels; macro over sources",
        protocol=Protocol(temperature=0.4, top_p=0.8, votes=3, order="original"),
        options={"setting": setting},
        paper_key="mllm_as_a_judge",
        paper_metrics=paper,
        path=f"{BENCHMARKS_DIR}/MLLM-Judge/Dataset/Benchmark/{setting}.jsonl",
        media_root=f"{BENCHMARKS_DIR}/MLLM-Judge/Dataset/image",
        **kw,
    )


def _genai(task: str, modality: str) -> BenchmarkSpec:
    return BenchmarkSpec(
        name=f"genai_bench_{task}",
        mini="genai_bench",
        modality=modality,
        adapter="genai_bench",
        judge_format="verdict4",
        metrics=(
            "accuracy",
            "run_mean_accuracy",
            "parse_failure_rate",
            "tie_rate",
            "first_position_rate",
            "n_items",
        ),
        description=f"GenAI-Bench {task.replace('_', ' ')} (test_v1): GenAI-Arena human votes, 4-way (A>B, B>A, tie good, tie bad)",
        protocol=Protocol(votes=7, order="original"),
        options={"task": task, "split": "test_v1", **({"source_fps": 1.0} if modality == "video" else {})},
        paper_key="genai_bench",
        paper_metrics={f"{task}/accuracy": "accuracy"},
        path=f"{BENCHMARKS_DIR}/GenAI-Bench",
        media_root=f"{BENCHMARKS_DIR}/GenAI-Bench" + ("/videos" if modality == "video" else ""),
    )


def _audio(
    name: str,
    adapter: str,
    temperature: float,
    description: str,
    options: dict[str, Any],
    paper: dict[str, str],
    folder: str,
    scale: tuple[float, float] = (1.0, 5.0),
    media: str | None = None,
) -> BenchmarkSpec:
    return BenchmarkSpec(
        name=name,
        mini="voxsim" if name == "voxsim" else "speech",
        modality="audio",
        adapter=adapter,
        judge_format="score",
        metrics=SCORE_METRICS,
        description=description,
        protocol=Protocol(temperature=temperature, top_p=0.95, order="original"),
        options=options,
        aggregation="mean",
        scale=scale,
        decimals=1,
        paper_key=name,
        paper_metrics=paper,
        path=f"{BENCHMARKS_DIR}/{folder}",
        media_root=f"{BENCHMARKS_DIR}/{media or folder}",
    )


BENCHMARKS: dict[str, BenchmarkSpec] = {
    b.name: b
    for b in (
        BenchmarkSpec(
            name="hh_harmless_heldout",
            curated=True,
            path="${paths.results}/curate/heldout.jsonl",
            media_root="${paths.results}/curate",
            modality="text",
            adapter="hh_heldout",
            **SCORE_PAIR,
            tie_rule=f"{TIE_IS_WRONG}: the chosen reply of each pair is the gold",
            metrics=(
                "accuracy",
                "accuracy_parsed",
                "parse_failure_rate",
                "unparsed_item_rate",
                "tie_rate",
                "first_position_rate",
                "n_items",
            ),
            description="held-out hh-rlhf harmless-base pairs (disjoint from the SFT pool): pick the chosen reply",
        ),
        _mllm(
            "pair",
            "pair_scores",
            (
                "macro_accuracy",
                "macro_accuracy_without_tie",
                "accuracy",
                "parse_failure_rate",
                "tie_rate",
                "n_items",
            ),
            {"macro/acc_pair_tie": "macro_accuracy", "macro/acc_pair_no_tie": "macro_accuracy_without_tie"},
            aggregation="summed",
            scale=(1.0, 10.0),
            alt_formats=("pair_verdict",),
            tie_rule=f"{TIE_IS_A_CLASS} (human_answer C); runs summed A -1, B +1, tie 0, a zero sum is a tie; "
            "without-tie accuracy drops gold-tie rows (official test/mllm_as_a_judge_vllm.py maps equal "
            "scores to C; test/evaluate.py mllm_judge_eval sums the runs)",
        ),
        _mllm(
            "score",
            "score",
            (
                "macro_pearson",
                "run_median_macro_pearson",
                "pearson",
                "spearman",
                "parse_failure_rate",
                "n_items",
            ),
            {"macro/pearson_score": "macro_pearson"},
            aggregation="mean",
            scale=(1.0, 5.0),
        ),
        _mllm(
            "batch",
            "batch",
            (
                "macro_normalized_levenshtein",
                "run_mean_macro_normalized_levenshtein",
                "normalized_levenshtein",
                "exact_ranking_rate",
                "parse_failure_rate",
                "n_items",
            ),
            {"macro/norm_levenshtein_batch": "macro_normalized_levenshtein"},
            aggregation="mean_score",
            scale=(1.0, 10.0),
        ),
        BenchmarkSpec(
            name="vl_rewardbench",
            path=f"{BENCHMARKS_DIR}/VL-RewardBench/data/test-00000-of-00001.parquet",
            media_root=f"{BENCHMARKS_DIR}/VL-RewardBench",
            mini="vl_rewardbench",
            modality="image",
            adapter="vl_rewardbench",
            **SCORE_PAIR,
            tie_rule=f"{TIE_IS_WRONG}; the official test/vl_rewardbench_vllm.py writes [0, 0] for equal "
            "scores, which matches neither ranking",
            metrics=PREFERENCE_METRICS,
            description="VL-RewardBench: general, hallucination and reasoning preference pairs; overall and macro accuracy",
            protocol=Protocol(temperature=0.6, top_p=0.95, votes=5, order="random"),
            allow_tie=False,
            paper_key="vl_rewardbench",
            paper_metrics={
                "overall/accuracy": "accuracy",
                "macro/accuracy": "macro_accuracy",
                **{f"{c}/accuracy": f"accuracy@{c}" for c in ("general", "hallucination", "reasoning")},
            },
        ),
        *(
            BenchmarkSpec(
                name=f"mj_bench_{perspective}",
                path=f"{BENCHMARKS_DIR}/MJ-Bench",
                media_root=f"{BENCHMARKS_DIR}/MJ-Bench",
                mini="mj_bench",
                modality="image",
                adapter="mj_bench",
                **SCORE_PAIR,
                tie_rule="equal scores = tie verdict: wrong in accuracy (MJ-Bench's 'with tie'), left out "
                "of accuracy_decisive ('without tie'); the official test/mj_bench_vllm.py labels equal "
                "scores 2 (tie)",
                metrics=(
                    "accuracy",
                    "accuracy_decisive",
                    "consistency_rate",
                    "parse_failure_rate",
                    "tie_rate",
                    "n_items",
                ),
                description=f"MJ-Bench {perspective}: which of two generated images is preferred; both orders",
                protocol=Protocol(votes=1, order="both", image_max_pixels=IMAGE_336),
                options={"perspective": perspective},
                paper_key="mj_bench",
                paper_metrics={
                    f"{perspective}/acc_tie": "accuracy",
                    f"{perspective}/acc_no_tie": "accuracy_decisive",
                },
            )
            for perspective in ("alignment", "safety", "quality")
        ),
        _genai("image_generation", "image"),
        _genai("image_edition", "image"),
        _genai("video_generation", "video"),
        BenchmarkSpec(
            name="mm_rewardbench",
            path=f"{BENCHMARKS_DIR}/multimodal_rewardbench/data/all_data.json",
            media_root=f"{BENCHMARKS_DIR}/multimodal_rewardbench/data",
            mini="mm_rewardbench",
            modality="image",
            adapter="mm_rewardbench",
            **SCORE_PAIR,
            tie_rule=f"{TIE_IS_WRONG}; no official FLEX script: the same rule as VL-RewardBench",
            metrics=PREFERENCE_METRICS,
            description="Multimodal RewardBench: correctness, preference, knowledge, reasoning, safety, VQA pairs",
            allow_tie=False,
            paper_key="multimodal_rewardbench",
            paper_metrics={"overall/accuracy": "accuracy"},
        ),
        _audio(
            "nisqa",
            "nisqa",
            0.6,
            "NISQA test sets FOR, LIVETALK and P501 pooled: speech quality MOS (1-5)",
            {"dbs": ["NISQA_TEST_FOR", "NISQA_TEST_LIVETALK", "NISQA_TEST_P501"]},
            {"utterance/lcc": "pearson", "utterance/srcc": "spearman"},
            "NISQA_Corpus",
        ),
        _audio(
            "bvcc",
            "bvcc",
            0.5,
            "BVCC (VoiceMOS 2022 main track): naturalness MOS of synthesized speech; utterance and system level",
            {"list": "sets/test_mos_list.txt", "audio_dir": "wav"},
            {"utterance/lcc": "pearson", "system/lcc": "sys_lcc"},
            "BVCC/DATA",
        ),
        _audio(
            "somos",
            "somos",
            0.5,
            "SOMOS: naturalness MOS of neural TTS (LJ Speech voice); utterance and system level",
            {"list": "training_files/split1/clean/test_mos_list.txt", "audio_dir": "audios"},
            {"utterance/lcc": "pearson", "system/lcc": "sys_lcc"},
            "somos",
        ),
        _audio(
            "voxsim",
            "voxsim",
            0.6,
            "VoxSim: perceived speaker similarity of two recordings on the raters' 1-6 scale",
            {"list": "data/voxsim_test_list.txt"},
            {"utterance/lcc": "pearson"},
            "voxsim",
            scale=(1.0, 6.0),
            media="voxceleb1/wav",
        ),
        BenchmarkSpec(
            name="judgelm_val",
            path=f"{BENCHMARKS_DIR}/JudgeLM-100K",
            media_root=f"{BENCHMARKS_DIR}/JudgeLM-100K",
            mini="text",
            modality="text",
            adapter="judgelm_val",
            judge_format="pair_scores",
            alt_formats=("pair_verdict",),
            tie_rule=f"{TIE_IS_A_CLASS}: JudgeLM's gold is a tie when GPT-4's two scores are equal, "
            "and agreement and F1 count three classes (the official FLEX script has no scorer)",
            metrics=(
                "accuracy",
                "macro_f1",
                "parse_failure_rate",
                "tie_rate",
                "first_position_rate",
                "n_items",
            ),
            description="JudgeLM val 5K: agreement with GPT-4's score pairs (A, B or tie)",
            scale=(1.0, 10.0),
            paper_key="judgelm_val",
            paper_metrics={"all/agreement": "accuracy", "all/f1": "macro_f1"},
        ),
        BenchmarkSpec(
            name="pandalm",
            path=f"{BENCHMARKS_DIR}/PandaLM/data/testset-v1.json",
            media_root=f"{BENCHMARKS_DIR}/PandaLM/data",
            mini="text",
            modality="text",
            adapter="pandalm",
            **SCORE_PAIR,
            tie_rule=f"{TIE_IS_A_CLASS}: PandaLM's annotators label 0 = tie (the official FLEX script "
            "has no scorer)",
            metrics=PAIR_METRICS,
            description="PandaLM test set: majority of three human annotators (response 1, response 2 or tie)",
        ),
        BenchmarkSpec(
            name="pampa",
            path=f"{BENCHMARKS_DIR}/pampa",
            media_root=f"{BENCHMARKS_DIR}/pampa",
            mini="molecules",
            modality="molecule",
            adapter="pampa",
            judge_format="score",
            metrics=(
                "best_of_n_accuracy",
                "pairwise_auc",
                "policy_accuracy",
                "oracle_accuracy",
                "pearson",
                "parse_failure_rate",
                "n_items",
            ),
            description="PAMPA permeability answers of a molecular model, each scored 1.0-10.0; best-of-N "
            "picks each molecule's top-scored answer. The paper's rows are policy accuracies on PAMPA "
            "with task information: Mol-LLaMA alone, best-of-16 under the FLEX judge, and after DPO",
            # the paper does not state the judge's sampling for the molecule case: the default protocol
            protocol=Protocol(order="original"),
            aggregation="mean",
            scale=(1.0, 10.0),
            decimals=1,
            paper_key="pampa",
            paper_metrics={"task_info/accuracy": "best_of_n_accuracy"},
        ),
        BenchmarkSpec(
            name="judge_anything",
            path=f"{BENCHMARKS_DIR}/JudgeAnything/dataset",
            media_root=f"{BENCHMARKS_DIR}/JudgeAnything/dataset",
            mini="judge_anything",
            modality="any",
            adapter="judge_anything",
            **SCORE_PAIR,
            tie_rule=f"{TIE_IS_A_CLASS} (human choice 1, both equally good); each setting's accuracy, then "
            "their average (the paper's Table 8 'Overall' pair comparison with tie)",
            metrics=(
                "macro_accuracy",
                "macro_accuracy_without_tie",
                "accuracy",
                "parse_failure_rate",
                "tie_rate",
                "n_items",
            ),
            description="JudgeAnything pair comparison, Overall rubric: which of two responses (text, "
            "images, video, audio) better answers a query of the same 15 any-to-any settings (T→T … A→A); "
            "human choice with tie; accuracy per setting, averaged",
            # the paper does not state the judge's sampling here: the default protocol, pairs as released
            protocol=Protocol(order="original"),
            options={"source_fps": 1.0, "rubric": "overall_score"},
            paper_key="judge_anything",
            paper_metrics={"average/acc_pair_tie": "macro_accuracy"},
        ),
    )
}


def get_benchmark(name: str) -> BenchmarkSpec:
    """Look up a benchmark by name, listing the known ones on a miss."""
    try:
        return BENCHMARKS[name]
    except KeyError:
        raise KeyError(f"unknown benchmark {name!r}; registered: {sorted(BENCHMARKS)}") from None
