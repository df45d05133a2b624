"""Mini image-judging benchmarks: MLLM-as-a-Judge (pair, score, batch), VL-RewardBench, Multimodal RewardBench."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from flexjudge.benchmarks.synthetic.common import (
    QUESTION,
    draw,
    perturb,
    png_bytes,
    random_scene,
    save,
    write_parquet,
)
from flexjudge.core.io import write_jsonl


def build_mllm_judge(root: Path, n: int, rng: np.random.Generator, **_: Any) -> dict[str, Any]:
    """MLLM-as-a-Judge pair/score/batch JSONL + Dataset/image/*.jpg; subsets by question kind."""
    base = root / "MLLM-Judge" / "Dataset"
    subsets = ("shapes-count", "shapes-colour", "shapes-kind")
    pair, score, batch = [], [], []
    for i in range(n):
        scene = random_scene(rng)
        image = save(draw(scene, rng), base / "image" / f"{i}.jpg")
        subset = subsets[i % 3]
        right = f"The image shows {scene.describe()}."
        wrong = f"The image shows {perturb(scene, rng).describe()}."
        if i % 4 == 3:  # both right, in other words: a human tie
            answers, label = (right, f"I can see {scene.describe()} on a plain background."), "C"
        elif rng.random() < 0.5:
            answers, label = (right, wrong), "A"
        else:
            answers, label = (wrong, right), "B"
        pair.append(
            {
                "id": i,
                "pair_id": i,
                "image_path": image,
                "original_dataset": subset,
                "instruction": QUESTION,
                "answer1": {"name": "mini-a", "answer": answers[0]},
                "answer2": {"name": "mini-b", "answer": answers[1]},
                "human_answer": label,
            }
        )
        errors = int(rng.integers(0, 3))
        scored = scene if errors == 0 else perturb(scene, rng, errors)
        score.append(
            {
                "score_id": i,
                "id": i,
                "name": "mini",
                "answer": f"The image shows {scored.describe()}.",
                "instruction": QUESTION,
                "image_path": image,
                "original_dataset": subset,
                "human": 5 - 2 * errors,
            }
        )
        n_answers = 3 + i % 2
        kinds = rng.permutation(n_answers)  # answer j has kinds[j] errors: fewer errors rank higher
        texts = [
            f"The image shows {(scene if k == 0 else perturb(scene, rng, min(int(k), 3))).describe()}."
            for k in kinds
        ]
        ranking = "".join("ABCD"[j] for j in np.argsort(kinds, kind="stable"))
        batch.append(
            {
                "id": i,
                "instruction": QUESTION,
                "image_path": f"image/{image}",
                "original_dataset": subset,
                "answers": [{"name": f"mini-{j}", "answer": t} for j, t in enumerate(texts)],
                "human_answer": ranking,
            }
        )
    for name, rows in (("pair", pair), ("score", score), ("batch", batch)):
        write_jsonl(base / "Benchmark" / f"{name}.jsonl", rows)
    return {
        "gold": "pair: the answer describing the drawn scene wins, every 4th item both are right (C, tie); "
        "score: 5 - 2 x attributes wrong; batch: answers ranked by attributes wrong (0-3), fewest first",
        "items": {"mllm_judge_pair": n, "mllm_judge_score": n, "mllm_judge_batch": n},
    }


def build_vl_rewardbench(root: Path, n: int, rng: np.random.Generator, **_: Any) -> dict[str, Any]:
    """VL-RewardBench parquet (image bytes); id prefixes give general / hallucination / reasoning."""
    rows = []
    for i in range(n):
        scene = random_scene(rng)
        kind = ("vlfeedback", "hallucination", "mathverse")[i % 3]
        if kind == "mathverse":
            query = f"How many {scene.shape}s are there? Add two to that number and answer with the result."
            right, wrong = (
                f"{scene.count} + 2 = {scene.count + 2}.",
                f"{scene.count} + 2 = {scene.count + 3}.",
            )
        else:
            query = QUESTION
            right, wrong = f"There are {scene.describe()}.", f"There are {perturb(scene, rng).describe()}."
        first_right = bool(rng.random() < 0.5)
        rows.append(
            {
                "id": f"{kind}-mini-{i}",
                "query": query,
                "response": [right, wrong] if first_right else [wrong, right],
                "image": {"bytes": png_bytes(draw(scene, rng)), "path": f"{i}.png"},
                "human_ranking": [0, 1] if first_right else [1, 0],
                "models": ["mini", "mini"],
                "judge": "constructed",
                "rationale": None,
                "query_source": "flexjudge-mini",
            }
        )
    write_parquet(root / "VL-RewardBench" / "data" / "test-00000-of-00001.parquet", rows)
    return {
        "gold": "the response that matches the drawn scene (or the right sum) is ranked 0",
        "items": {"vl_rewardbench": n},
    }


def build_mm_rewardbench(root: Path, n: int, rng: np.random.Generator, **_: Any) -> dict[str, Any]:
    """Multimodal RewardBench data/all_data.json + data/images/mini/*.png."""
    data = root / "multimodal_rewardbench" / "data"
    categories = ("open_generation/correctness_task", "knowledge", "vqa", "reasoning", "safety")
    rows = []
    for i in range(n):
        scene = random_scene(rng)
        name = save(draw(scene, rng), data / "images" / "mini" / f"{i}.png")
        right, wrong = f"There are {scene.describe()}.", f"There are {perturb(scene, rng).describe()}."
        first = bool(rng.random() < 0.5)
        category = categories[i % len(categories)]
        rows.append(
            {
                "ID": f"{'math' if category == 'reasoning' else 'mini'}_{i}",
                "Text": QUESTION,
                "Image": f"images/mini/{name}",
                "Output1": right if first else wrong,
                "Output2": wrong if first else right,
                "Better": "Output1" if first else "Output2",
                "Category": category,
            }
        )
    data.mkdir(parents=True, exist_ok=True)
    (data / "all_data.json").write_text(json.dumps(rows, indent=1))
    return {"gold": "the output that matches the drawn scene", "items": {"mm_rewardbench": n}}
