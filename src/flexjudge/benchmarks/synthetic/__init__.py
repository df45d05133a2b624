"""Offline mini versions of the benchmarks, in their official formats, with gold known by construction.

Each family builder writes the files of its benchmarks under `root` in the same layout as the real
release under `paths.benchmarks` (so a mini is evaluated by pointing `paths.benchmarks` at `root`,
through the very same adapter), and returns a record of how it was made. Everything is drawn from one
seeded generator: the same seed gives the same bytes.

- Images: PIL scenes of N shapes of one colour; answers describe the scene right or with a changed
  count / colour / shape (gold: the right one, or fewer errors first).
- Generated-content judging: a prompt with an image (or a short frame-folder video) that matches it
  or a perturbed one; edits that do or do not apply the instruction.
- Speech: sentences spoken by espeak-ng, degraded by white noise, clipping, band-limiting or dropouts at
  severities 0-3; the MOS is set by severity (systems = degradation types); speaker similarity from
  pairs of espeak voices.
- Text: hh-rlhf harmless-base pairs (MIT) in JudgeLM and PandaLM formats, the human-chosen reply as gold.
- Any-to-any (JudgeAnything): the 15 settings from the scenes, frame videos and espeak speech above.
- Molecules: ChEMBL compounds with measured pIC50 from the rdkit wheel (BSD-3), in the PAMPA layout; the
  prompt gives the measured value and the cut-off, and each molecule gets a right and a wrong answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flexjudge.benchmarks.synthetic.anything import build_judge_anything
from flexjudge.benchmarks.synthetic.generation import build_genai_bench, build_mj_bench
from flexjudge.benchmarks.synthetic.images import build_mllm_judge, build_mm_rewardbench, build_vl_rewardbench
from flexjudge.benchmarks.synthetic.molecules import build_molecules
from flexjudge.benchmarks.synthetic.rlhfv import build_rlhfv
from flexjudge.benchmarks.synthetic.speech import build_speech, build_voxsim
from flexjudge.benchmarks.synthetic.text import build_text
from flexjudge.benchmarks.synthetic.vqa import build_okvqa, build_textvqa

FAMILIES: dict[str, Callable[..., dict[str, Any]]] = {
    "mllm_judge": build_mllm_judge,
    "vl_rewardbench": build_vl_rewardbench,
    "mm_rewardbench": build_mm_rewardbench,
    "mj_bench": build_mj_bench,
    "genai_bench": build_genai_bench,
    "speech": build_speech,
    "voxsim": build_voxsim,
    "text": build_text,
    "molecules": build_molecules,
    "judge_anything": build_judge_anything,
}

#: Minis of data that are not judge benchmarks, built by the same stage but neither in the registry's
#: families above nor read by curate's decontamination: the answering benchmarks of the VQA retention check
#: (`flexjudge.retention`) and RLHF-V's image-text preference pairs (the image-text training pool).
DATA_FAMILIES: dict[str, Callable[..., dict[str, Any]]] = {
    "textvqa": build_textvqa,
    "okvqa": build_okvqa,
    "rlhfv": build_rlhfv,
}


def family_of(benchmark: str) -> str:
    """The mini family that builds a benchmark (its registry entry's `mini`)."""
    from flexjudge.benchmarks.registry import get_benchmark

    family = get_benchmark(benchmark).mini
    if family is None:
        raise KeyError(f"no mini version of {benchmark!r}; families: {sorted(FAMILIES)}")
    return family
