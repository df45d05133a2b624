"""What the mini builders share: shape scenes drawn with PIL, image and table writers."""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

SHAPES = ("circle", "square", "triangle")
COLOURS = {"red": (215, 40, 40), "green": (40, 160, 70), "blue": (50, 80, 215), "yellow": (230, 195, 40)}
NUMBERS = ("zero", "one", "two", "three", "four", "five")
SIZE = 128


@dataclass(frozen=True)
class Scene:
    """What an image shows: `count` shapes of one kind and colour on a light background."""

    shape: str
    colour: str
    count: int

    def describe(self) -> str:
        noun = self.shape + ("s" if self.count != 1 else "")
        return f"{NUMBERS[self.count]} {self.colour} {noun}"


def random_scene(rng: np.random.Generator) -> Scene:
    return Scene(str(rng.choice(SHAPES)), str(rng.choice(list(COLOURS))), int(rng.integers(1, 5)))


def perturb(scene: Scene, rng: np.random.Generator, errors: int = 1) -> Scene:
    """The scene with `errors` of its attributes (count, colour, shape) changed."""
    fields = list(rng.permutation(["count", "colour", "shape"]))[:errors]
    out = scene
    for name in fields:
        if name == "count":
            out = replace(out, count=int(rng.choice([c for c in range(1, 5) if c != scene.count])))
        elif name == "colour":
            out = replace(out, colour=str(rng.choice([c for c in COLOURS if c != scene.colour])))
        else:
            out = replace(out, shape=str(rng.choice([s for s in SHAPES if s != scene.shape])))
    return out


def draw(scene: Scene, rng: np.random.Generator, size: int = SIZE, shift: float = 0.0) -> Image.Image:
    """The scene as an RGB image; positions are random but never overlap (`shift` moves everything right)."""
    img = Image.new("RGB", (size, size), (245, 243, 238))
    pen = ImageDraw.Draw(img)
    cell = size // 2
    cells = rng.permutation(4)[: scene.count]
    r = size // 7
    for c in cells:
        cx = int((c % 2) * cell + cell / 2 + shift * size) % size
        cy = int((c // 2) * cell + cell / 2)
        box = (cx - r, cy - r, cx + r, cy + r)
        colour = COLOURS[scene.colour]
        if scene.shape == "circle":
            pen.ellipse(box, fill=colour)
        elif scene.shape == "square":
            pen.rectangle(box, fill=colour)
        else:
            pen.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=colour)
    return img


def png_bytes(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def save(img: Image.Image, path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path.name


def write_parquet(path: Path, rows: list[dict[str, Any]]) -> None:
    import pandas as pd

    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_parquet(path, index=False)


QUESTION = "How many objects are in the image, and what are their shape and colour?"
