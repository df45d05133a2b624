"""Mini text benchmarks: JudgeLM validation and PandaLM test sets from hh-rlhf harmless-base pairs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from flexjudge.core.io import write_jsonl


def build_text(
    root: Path, n: int, rng: np.random.Generator, *, hh_rlhf: Path, skip: int = 0, **_: Any
) -> dict[str, Any]:
    """JudgeLM val and PandaLM test files from hh-rlhf pairs after the first `skip` usable ones."""
    from flexjudge.data.hh_rlhf import read_hh_rlhf

    items, _ = read_hh_rlhf(hh_rlhf, on_bad_row="skip")
    chosen = [it for it in items if len(it.question) + len(it.chosen) + len(it.rejected) <= 700][
        skip : skip + n
    ]
    questions, judgements, panda = [], [], []
    for i, item in enumerate(chosen):
        first = bool(rng.random() < 0.5)
        a1, a2 = (item.chosen, item.rejected) if first else (item.rejected, item.chosen)
        s1, s2 = (8, 3) if first else (3, 8)
        questions.append(
            {
                "question_id": i,
                "score": [{}, {}],
                "question_body": item.question,
                "answer1_body": a1,
                "answer2_body": a2,
                "answer1_model_id": "hh-rlhf",
                "answer2_model_id": "hh-rlhf",
                "answer1_metadata": {},
                "answer2_metadata": {},
            }
        )
        judgements.append(
            {
                "review_id": f"mini-{i}",
                "question_id": i,
                "answer1_id": "",
                "answer2_id": "",
                "reviewer_id": "constructed",
                "metadata": {},
                "text": f"{s1} {s2}\nThe human-preferred reply gets 8.",
                "score": [s1, s2],
            }
        )
        label = 1 if first else 2
        panda.append(
            {
                "idx": i,
                "motivation_app": "hh-rlhf",
                "cmp_key": "chosen_rejected",
                "instruction": item.question,
                "input": float("nan"),
                "response1": a1,
                "response2": a2,
                "annotator1": label,
                "annotator2": label,
                "annotator3": label,
            }
        )
    write_jsonl(root / "JudgeLM-100K" / "judgelm_val_5k.jsonl", questions)
    write_jsonl(root / "JudgeLM-100K" / "judgelm_val_5k_gpt4.jsonl", judgements)
    (root / "PandaLM" / "data").mkdir(parents=True, exist_ok=True)
    (root / "PandaLM" / "data" / "testset-v1.json").write_text(json.dumps(panda, indent=1))  # NaN as released
    return {
        "gold": "hh-rlhf's human-chosen reply: JudgeLM scores 8 vs 3, PandaLM annotators all pick it",
        "source": f"{hh_rlhf} (MIT), pairs {skip}..{skip + n - 1} of those with <= 700 characters",
        "items": {"judgelm_val": len(chosen), "pandalm": len(chosen)},
    }
