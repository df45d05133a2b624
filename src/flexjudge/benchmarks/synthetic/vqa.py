"""Mini TextVQA and OK-VQA in their release layouts (issue #18's VQA retention check), read by
`flexjudge.benchmarks.vqa`'s adapters: images with a word rendered on a sign (TextVQA: reading text) and
shape scenes asked about a simple fact (OK-VQA: the colour or the number of shapes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from flexjudge.benchmarks.synthetic.common import COLOURS, draw, random_scene, save
from flexjudge.core.io import write_json

SIGN_WORDS = ("stop", "open", "exit", "sale", "cafe", "taxi", "hotel", "bus", "park", "bank")
#: Annotators who read the word right; the rest give a misreading, so soft accuracy has something to count.
READERS = 8


def sign(word: str, rng: np.random.Generator, size: int = 160) -> Image.Image:
    """A light background with a coloured sign and `word` written on it in black."""
    img = Image.new("RGB", (size, size), (236, 234, 228))
    pen = ImageDraw.Draw(img)
    colour = COLOURS[str(rng.choice(list(COLOURS)))]
    top = int(rng.integers(20, 60))
    pen.rectangle((16, top, size - 16, top + 56), fill=colour)
    font = ImageFont.load_default(size=28)
    pen.text((size // 2, top + 28), word.upper(), fill=(10, 10, 10), font=font, anchor="mm")
    return img


def _misread(word: str) -> str:
    return word[::-1] if word[::-1] != word else word + "s"


def build_textvqa(root: Path, n: int, rng: np.random.Generator, **_: Any) -> dict[str, Any]:
    """TextVQA/TextVQA_0.5.1_val.json + TextVQA/train_images/<image_id>.jpg."""
    base = root / "TextVQA"
    rows = []
    for i in range(n):
        word = SIGN_WORDS[int(rng.integers(len(SIGN_WORDS)))]
        image_id = f"{int(rng.integers(16**15)):016x}"
        save(sign(word, rng), base / "train_images" / f"{image_id}.jpg")
        answers = [word] * READERS + [_misread(word)] * (10 - READERS)
        rows.append(
            {
                "question": "what does the sign say?",
                "image_id": image_id,
                "image_classes": ["Sign"],
                "image_width": 160,
                "image_height": 160,
                "answers": [answers[j] for j in rng.permutation(10)],
                "question_tokens": ["what", "does", "the", "sign", "say"],
                "question_id": 50000 + i,
                "set_name": "val",
            }
        )
    write_json(
        base / "TextVQA_0.5.1_val.json",
        {"dataset_type": "val", "dataset_name": "textvqa", "dataset_version": "0.5.1", "data": rows},
    )
    return {
        "gold": f"the word on the sign ({READERS} of 10 annotators; the others a misreading)",
        "items": {"textvqa": n},
    }


def build_okvqa(root: Path, n: int, rng: np.random.Generator, **_: Any) -> dict[str, Any]:
    """OK-VQA/OpenEnded_mscoco_val2014_questions.json + mscoco_val2014_annotations.json + val2014/*.jpg."""
    base = root / "OK-VQA"
    questions, annotations = [], []
    for i in range(n):
        scene = random_scene(rng)
        image_id = 100000 + i
        save(draw(scene, rng), base / "val2014" / f"COCO_val2014_{image_id:012d}.jpg")
        if i % 2 == 0:
            question, answer = "What colour are the shapes?", scene.colour
        else:
            question, answer = "How many shapes are there?", str(scene.count)
        qid = image_id * 10
        questions.append({"image_id": image_id, "question": question, "question_id": qid})
        answers = [
            {"answer_id": j + 1, "raw_answer": answer, "answer_confidence": "yes", "answer": answer}
            for j in range(10)
        ]
        annotations.append(
            {
                "image_id": image_id,
                "answer_type": "other",
                "question_id": qid,
                "answers": answers,
                "confidence": 3,
            }
        )
    write_json(
        base / "OpenEnded_mscoco_val2014_questions.json",
        {"license": {}, "data_subtype": "val2014", "questions": questions},
    )
    write_json(
        base / "mscoco_val2014_annotations.json",
        {"license": {}, "data_subtype": "val2014", "annotations": annotations},
    )
    return {
        "gold": "the shapes' colour (even items) or count as a digit (odd items), all 10 annotators",
        "items": {"okvqa": n},
    }
