"""A mini RLHF-V (openbmb/RLHF-V-Dataset) in its release layout, for the image-text data ablation (the
paper's Table 5): `RLHF-V/RLHF-V-Dataset.parquet`, one row per shape scene, with the columns the release
has (ds_name, image {bytes, path}, text, origin_dataset, origin_split, idx, image_path).

As in RLHF-V, the rejected answer is a model's description with a hallucinated detail and the chosen one
its correction: here the rejected answer gets one attribute of the scene (count, colour or shape) wrong,
and the chosen answer is the same sentence with it right."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from flexjudge.benchmarks.synthetic.common import draw, perturb, png_bytes, random_scene, write_parquet

QUESTIONS = (
    "Describe the image in detail.",
    "What can you see in this picture?",
    "Give a short description of the shapes in the image.",
    "What is in the image? Answer in one sentence.",
)
#: How a description continues after naming the scene (so rows of one scene read differently).
TAILS = (
    "on a pale background, spread apart with nothing else around them.",
    "drawn flat, with no shading, on an off-white canvas.",
    "placed in different corners of the picture.",
    "and the rest of the picture is empty.",
)


def build_rlhfv(root: Path, n: int, rng: np.random.Generator, **_: Any) -> dict[str, Any]:
    """RLHF-V/RLHF-V-Dataset.parquet with n rows (scene image, question, corrected and hallucinated answer)."""
    rows = []
    for i in range(n):
        scene = random_scene(rng)
        wrong = perturb(scene, rng)
        opening = str(rng.choice(["The image shows", "I can see", "There are", "In the picture there are"]))
        tail = TAILS[int(rng.integers(len(TAILS)))]
        text = {
            "question": QUESTIONS[int(rng.integers(len(QUESTIONS)))],
            "chosen": f"{opening} {scene.describe()} {tail}",
            "rejected": f"{opening} {wrong.describe()} {tail}",
        }
        rows.append(
            {
                "ds_name": "mini",
                "image": {"bytes": png_bytes(draw(scene, rng)), "path": f"{i:05d}.png"},
                "text": json.dumps(text),
                "origin_dataset": "flexjudge-mini",
                "origin_split": json.dumps({"model": "mini-describer", "type": "detailed description"}),
                "idx": i,
                "image_path": f"mini/{i:05d}.png",
            }
        )
    write_parquet(root / "RLHF-V" / "RLHF-V-Dataset.parquet", rows)
    return {"gold": "chosen: the scene described right; rejected: one attribute wrong", "items": {"rlhfv": n}}
