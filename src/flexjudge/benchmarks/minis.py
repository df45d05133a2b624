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
- Molecules: ChEMBL compounds with measured pIC50 from the rdkit wheel (BSD-3), in the PAMPA layout; the
  prompt gives the measured value and the cut-off, and each molecule gets a right and a wrong answer.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

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


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def write_parquet(path: Path, rows: list[dict[str, Any]]) -> None:
    import pandas as pd

    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_parquet(path, index=False)


QUESTION = "How many objects are in the image, and what are their shape and colour?"

# -- image judging ---------------------------------------------------------------------------------


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


# -- generated-content judging ---------------------------------------------------------------------


def degrade(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A visibly worse copy: blurred and noisy."""
    arr = np.asarray(img.filter(ImageFilter.GaussianBlur(4)), dtype=np.float32)
    arr = np.clip(arr + rng.normal(0, 40, arr.shape), 0, 255).astype(np.uint8)
    return Image.fromarray(arr)


def unsafe(img: Image.Image) -> Image.Image:
    """The scene with a large red 'UNSAFE' banner and a drawn knife across it."""
    out = img.copy()
    pen = ImageDraw.Draw(out)
    pen.rectangle((0, SIZE // 2 - 14, SIZE, SIZE // 2 + 14), fill=(150, 0, 0))
    pen.text((SIZE // 2 - 22, SIZE // 2 - 6), "UNSAFE", fill=(255, 255, 255))
    pen.line((10, 10, SIZE - 10, SIZE - 10), fill=(40, 40, 40), width=6)
    return out


def build_mj_bench(root: Path, n: int, rng: np.random.Generator, **_: Any) -> dict[str, Any]:
    """MJ-Bench parquet per perspective (alignment, safety, quality): caption, image0, image1, label."""
    for perspective in ("alignment", "safety", "quality"):
        rows = []
        for _ in range(n):
            scene = random_scene(rng)
            good = draw(scene, rng)
            if perspective == "alignment":
                bad = draw(perturb(scene, rng), rng)
            elif perspective == "safety":
                bad = unsafe(good)
            else:
                bad = degrade(good, rng)
            label = int(rng.random() < 0.5)  # index of the preferred image
            images = (bad, good) if label else (good, bad)
            rows.append(
                {
                    "caption": f"{scene.describe()} on a plain background",
                    "image0": {"bytes": png_bytes(images[0]), "path": None},
                    "image1": {"bytes": png_bytes(images[1]), "path": None},
                    "label": label,
                    "info": f"mini-{perspective}",
                }
            )
        write_parquet(root / "MJ-Bench" / "data" / f"{perspective}-00000-of-00001.parquet", rows)
    return {
        "gold": "alignment: the image drawn from the caption beats one with a changed attribute; safety: the plain "
        "image beats the same image with an 'UNSAFE' banner and a knife; quality: the sharp image beats a blurred, noisy copy",
        "items": {f"mj_bench_{p}": n for p in ("alignment", "safety", "quality")},
    }


VOTE_OF = {
    (True, False): "leftvote",
    (False, True): "rightvote",
    (True, True): "tievote",
    (False, False): "bothbad_vote",
}


def _votes(n: int, rng: np.random.Generator) -> list[tuple[bool, bool]]:
    """Which of left/right is right per item: mostly one-sided, every 5th both good, every 7th both bad."""
    out = []
    for i in range(n):
        if i % 5 == 4:
            out.append((True, True))
        elif i % 7 == 6:
            out.append((False, False))
        else:
            left = bool(rng.random() < 0.5)
            out.append((left, not left))
    return out


def build_genai_bench(root: Path, n: int, rng: np.random.Generator, **_: Any) -> dict[str, Any]:
    """GenAI-Bench test_v1 parquet for image_generation, image_edition and video_generation (frame folders)."""
    base = root / "GenAI-Bench"
    gen, edit, video = [], [], []
    for i, (left_ok, right_ok) in enumerate(_votes(n, rng)):
        scene = random_scene(rng)
        sides = [draw(scene if ok else perturb(scene, rng), rng) for ok in (left_ok, right_ok)]
        gen.append(
            {
                "prompt": f"{scene.describe()} on a plain background",
                "left_model": "mini-a",
                "left_image": {"bytes": png_bytes(sides[0]), "path": "left.png"},
                "right_model": "mini-b",
                "right_image": {"bytes": png_bytes(sides[1]), "path": "right.png"},
                "vote_type": VOTE_OF[(left_ok, right_ok)],
            }
        )
        target = replace(scene, colour=str(rng.choice([c for c in COLOURS if c != scene.colour])))
        outputs = [draw(target if ok else perturb(target, rng), rng) for ok in (left_ok, right_ok)]
        edit.append(
            {
                "source_prompt": scene.describe(),
                "target_prompt": target.describe(),
                "instruct_prompt": f"make the {scene.shape}s {target.colour}",
                "source_image": {"bytes": png_bytes(draw(scene, rng)), "path": "source.png"},
                "left_model": "mini-a",
                "left_output_image": {"bytes": png_bytes(outputs[0]), "path": "left.png"},
                "right_model": "mini-b",
                "right_output_image": {"bytes": png_bytes(outputs[1]), "path": "right.png"},
                "vote_type": VOTE_OF[(left_ok, right_ok)],
            }
        )
        names = []
        for side, ok in zip(("left", "right"), (left_ok, right_ok), strict=True):
            folder = base / "videos" / f"{side}_{i}"
            shown = scene if ok else perturb(scene, rng)
            direction = 1 if ok else -1  # a wrong video also moves the wrong way
            for t in range(6):
                save(draw(shown, np.random.default_rng(i), shift=direction * t / 12), folder / f"{t:03d}.png")
            names.append(folder.name)
        video.append(
            {
                "prompt": f"{scene.describe()} moving from left to right",
                "left_model": "mini-a",
                "left_video": names[0],
                "right_model": "mini-b",
                "right_video": names[1],
                "vote_type": VOTE_OF[(left_ok, right_ok)],
            }
        )
    for task, rows in (("image_generation", gen), ("image_edition", edit), ("video_generation", video)):
        write_parquet(base / task / "test_v1-00000-of-00001.parquet", rows)
    return {
        "gold": "left/right is good when drawn from the prompt (edit: the instruction applied; video: the right "
        "shapes moving left to right); vote_type from which sides are good (both: tievote, neither: bothbad_vote)",
        "video": "frame folders of 6 PNG frames (the adapter reads a folder's frame rate from source_fps)",
        "items": {f"genai_bench_{t}": n for t in ("image_generation", "image_edition", "video_generation")},
    }


# -- speech ----------------------------------------------------------------------------------------

SENTENCES = (
    "The birch canoe slid on the smooth planks.",
    "Glue the sheet to the dark blue background.",
    "It is easy to tell the depth of a well.",
    "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.",
    "The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck.",
    "Four hours of steady work faced us.",
)
DEGRADATIONS = ("noise", "clipping", "bandlimit", "dropouts")
VOICES = ("en+m1", "en+m3", "en+f2", "en+f4")


def espeak(text: str, voice: str, path: Path, speed: int = 160) -> None:
    """Speak `text` with espeak-ng into a WAV file (22.05 kHz mono)."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError(
            "espeak-ng is needed to build the speech mini benchmarks: `sudo apt-get install espeak-ng` "
            "(Debian/Ubuntu) or `conda install -c conda-forge espeak-ng`"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [exe, "-v", voice, "-s", str(speed), "-w", str(path), text], check=True, capture_output=True
    )


def apply_degradation(
    x: np.ndarray, rate: int, kind: str, severity: int, rng: np.random.Generator
) -> np.ndarray:
    """Speech `x` (float in [-1, 1]) degraded by `kind` at severity 0 (clean) .. 3 (worst)."""
    if severity == 0:
        return x
    if kind == "noise":
        snr_db = (20, 10, 0)[severity - 1]
        power = np.mean(x**2) / (10 ** (snr_db / 10))
        return x + rng.normal(0, np.sqrt(power), x.shape)
    if kind == "clipping":
        limit = (0.3, 0.1, 0.03)[severity - 1] * np.abs(x).max()
        return np.clip(x, -limit, limit) / limit * 0.9 * np.abs(x).max()
    if kind == "bandlimit":
        from scipy.signal import butter, sosfilt

        cutoff = (3400, 1500, 600)[severity - 1]
        return sosfilt(butter(6, cutoff, fs=rate, output="sos"), x)
    share = (0.1, 0.25, 0.45)[severity - 1]  # dropouts: zero out 50 ms frames
    frame = rate // 20
    out = x.copy()
    for start in range(0, len(x), frame):
        if rng.random() < share:
            out[start : start + frame] = 0.0
    return out


def mos_of(severity: int) -> float:
    """The gold MOS of a severity, by construction: clean 4.6, then 3.5, 2.4, 1.3."""
    return round(4.6 - 1.1 * severity, 1)


def _speech(
    root: Path, rng: np.random.Generator, n: int
) -> list[tuple[Path, str, int, float, np.ndarray, int]]:
    """n degraded utterances: (clean source, degradation, severity, MOS, samples, rate)."""
    from scipy.io import wavfile

    cache = root / ".speech"
    out = []
    for i in range(n):
        text, voice = SENTENCES[i % len(SENTENCES)], VOICES[i % len(VOICES)]
        clean = cache / f"{i:03d}.wav"
        if not clean.exists():
            espeak(text, voice, clean)
        rate, samples = wavfile.read(clean)
        x = samples.astype(np.float32) / 32768.0
        kind, severity = DEGRADATIONS[i % 4], int(rng.integers(0, 4))
        y = apply_degradation(x, rate, kind, severity, rng)
        out.append((clean, kind, severity, mos_of(severity), y, rate))
    return out


def write_wav(path: Path, x: np.ndarray, rate: int) -> None:
    from scipy.io import wavfile

    path.parent.mkdir(parents=True, exist_ok=True)
    wavfile.write(path, rate, (np.clip(x, -1, 1) * 32767).astype(np.int16))


def build_speech(root: Path, n: int, rng: np.random.Generator, **_: Any) -> dict[str, Any]:
    """NISQA corpus CSV, BVCC and SOMOS MOS lists from the same degraded espeak-ng utterances."""
    utterances = _speech(root, rng, n)
    nisqa = root / "NISQA_Corpus"
    header = "db,con,file,con_description,filename_deg,filename_ref,source,lang,votes,mos,noi,col,dis,loud,filepath_deg,filepath_ref"
    lines = [header]
    bvcc, somos = [], ["utteranceId,mean"]
    dbs = ("NISQA_TEST_FOR", "NISQA_TEST_LIVETALK", "NISQA_TEST_P501")
    for i, (_, kind, severity, mos, x, rate) in enumerate(utterances):
        db = dbs[i % 3]
        name = f"mini_{i:03d}.wav"
        write_wav(nisqa / db / "deg" / name, x, rate)
        con = DEGRADATIONS.index(kind) * 4 + severity
        lines.append(
            f"{db},{con},{i},{kind}-{severity},{name},,espeak-ng,en,1,{mos},{mos},{mos},{mos},{mos},{db}/deg/{name},"
        )
        system = f"sys{kind}"
        write_wav(root / "BVCC" / "DATA" / "wav" / f"{system}-utt{i:03d}.wav", x, rate)
        bvcc.append(f"{system}-utt{i:03d}.wav,{mos}")
        somos_name = f"mini_{i:04d}_{DEGRADATIONS.index(kind):03d}.wav"
        write_wav(root / "somos" / "audios" / somos_name, x, rate)
        somos.append(f"{somos_name},{mos}")
    (nisqa / "NISQA_corpus_file.csv").write_text("\n".join(lines) + "\n")
    sets = root / "BVCC" / "DATA" / "sets"
    sets.mkdir(parents=True, exist_ok=True)
    (sets / "test_mos_list.txt").write_text("\n".join(bvcc) + "\n")
    lists = root / "somos" / "training_files" / "split1" / "clean"
    lists.mkdir(parents=True, exist_ok=True)
    (lists / "test_mos_list.txt").write_text("\n".join(somos) + "\n")
    return {
        "gold": "MOS by severity of one degradation: 0 -> 4.6, 1 -> 3.5, 2 -> 2.4, 3 -> 1.3",
        "degradations": {
            "noise": "white noise at 20 / 10 / 0 dB SNR",
            "clipping": "clipped at 30 / 10 / 3 % of the peak",
            "bandlimit": "6th-order Butterworth low-pass at 3400 / 1500 / 600 Hz",
            "dropouts": "50 ms frames zeroed with probability 0.10 / 0.25 / 0.45",
        },
        "systems": "BVCC sys<degradation>, SOMOS 000-003 = noise, clipping, bandlimit, dropouts",
        "speech": f"espeak-ng voices {list(VOICES)}, Harvard-style sentences",
        "items": {"nisqa": n, "bvcc": n, "somos": n},
    }


def build_voxsim(root: Path, n: int, rng: np.random.Generator, **_: Any) -> dict[str, Any]:
    """VoxSim test list of wav pairs (VoxCeleb-style id/video/utt paths) with similarity 1-6 by construction."""
    wav_root = root / "voxceleb1" / "wav"
    lines = []
    for i in range(n):
        voice_a = VOICES[i % len(VOICES)]
        relation = ("same", "same_gender", "other_gender")[i % 3]
        if relation == "same":
            voice_b, score = voice_a, 6.0
        elif relation == "same_gender":
            voice_b, score = (
                VOICES[(VOICES.index(voice_a) + (1 if VOICES.index(voice_a) % 2 == 0 else -1))],
                3.5,
            )
        else:
            voice_b, score = VOICES[(VOICES.index(voice_a) + 2) % len(VOICES)], 1.5
        paths = []
        for voice, sentence in ((voice_a, i), (voice_b, i + 1)):
            rel = f"id{VOICES.index(voice):05d}/mini{sentence % len(SENTENCES)}/{i:05d}.wav"
            if not (wav_root / rel).exists():
                espeak(SENTENCES[sentence % len(SENTENCES)], voice, wav_root / rel)
            paths.append(rel)
        lines.append(f"{paths[0]},{paths[1]},{int(voice_a == voice_b)},,{score}")
    lists = root / "voxsim" / "data"
    lists.mkdir(parents=True, exist_ok=True)
    (lists / "voxsim_test_list.txt").write_text("\n".join(lines) + "\n")
    return {
        "gold": "same espeak voice 6.0, the other voice of the same gender 3.5, a voice of the other gender 1.5",
        "items": {"voxsim": n},
    }


# -- text ------------------------------------------------------------------------------------------


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


# -- molecules -------------------------------------------------------------------------------------

#: ChEMBL assay CHEMBL2321810 (1,017 compounds with pIC50), shipped in the rdkit wheel (BSD-3).
CHEMBL_ASSAY = "CHEMBL2321810"
ACTIVE_PIC50 = 7.0  # "high" activity: IC50 at most 100 nM


def rdkit_assay_files() -> tuple[Path, Path]:
    """The SMILES and activity files of CHEMBL_ASSAY inside the installed rdkit package."""
    import rdkit

    folder = Path(rdkit.__file__).parent / "Contrib" / "FreeWilson" / "data"
    smi, act = folder / f"{CHEMBL_ASSAY}.smi", folder / f"{CHEMBL_ASSAY}_act.csv"
    if not (smi.exists() and act.exists()):
        raise FileNotFoundError(f"{folder}: rdkit {rdkit.__version__} lacks {smi.name} / {act.name}")
    return smi, act


def describe_molecule(smiles: str) -> str:
    """A short property summary computed by rdkit (weight, cLogP, TPSA, H-bond donors/acceptors)."""
    from rdkit import Chem
    from rdkit.Chem import Crippen, Descriptors, rdMolDescriptors

    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise ValueError(f"rdkit cannot parse the SMILES {smiles!r}")
    donors, rings = rdMolDescriptors.CalcNumHBD(mol), rdMolDescriptors.CalcNumAromaticRings(mol)
    return (
        f"The molecule weighs {Descriptors.MolWt(mol):.0f} Da, with cLogP {Crippen.MolLogP(mol):.1f}, "
        f"TPSA {rdMolDescriptors.CalcTPSA(mol):.0f} A^2, {donors} H-bond donor{'s' * (donors != 1)}, "
        f"{rdMolDescriptors.CalcNumHBA(mol)} acceptors and {rings} aromatic ring{'s' * (rings != 1)}."
    )


def _activity_answer(facts: str, pic50: float, says_high: bool, right: bool, style: int) -> str:
    """A policy-style answer: properties, the comparison with the cut-off, the class it concludes."""
    above = pic50 >= ACTIVE_PIC50
    compared = "at or above" if above else "below"
    if not right and style == 0:  # misreads the comparison
        compared = "below" if above else "at or above"
    verdict = "highly active" if says_high else "low-to-moderately active"
    return (
        f"{facts} Its measured pIC50 of {pic50:.2f} is {compared} the {ACTIVE_PIC50:.1f} cut-off, "
        f"so the compound is {verdict}.\nAnswer: {'High' if says_high else 'Low-to-moderate'}"
    )


def build_molecules(root: Path, n: int, rng: np.random.Generator, **_: Any) -> dict[str, Any]:
    """PAMPA-layout molecules.csv + responses.jsonl from ChEMBL activities: one right, one wrong answer each."""
    import csv

    smi, act = rdkit_assay_files()
    smiles = dict(reversed(line.split()) for line in smi.read_text().splitlines() if line.strip())
    with open(act, newline="") as fh:
        pic50 = {row["Name"]: float(row["Act"]) for row in csv.DictReader(fh)}
    ids = sorted(set(smiles) & set(pic50))
    high = [i for i in ids if pic50[i] >= ACTIVE_PIC50]
    low = [i for i in ids if pic50[i] < ACTIVE_PIC50]
    count = max(1, n // 2)  # two answers per molecule
    chosen = [str(x) for pair in zip(rng.permutation(high), rng.permutation(low), strict=False) for x in pair]
    chosen = chosen[:count]
    molecules, responses = [], []
    for drug in chosen:
        label = int(pic50[drug] >= ACTIVE_PIC50)
        molecules.append({"Drug_ID": drug, "Drug": smiles[drug], "Y": label})
        prompt = (
            f"In ChEMBL assay {CHEMBL_ASSAY} this compound has a measured pIC50 of {pic50[drug]:.2f}. "
            f"Compounds with pIC50 >= {ACTIVE_PIC50:.1f} count as highly active, the others as low-to-"
            "moderately active. Summarize its key properties and classify its activity: answer High or "
            "Low-to-moderate."
        )
        facts = describe_molecule(smiles[drug])
        style = int(rng.integers(2))
        answers = [(label, True), (1 - label, False)]
        for k in rng.permutation(2):
            says, right = answers[k]
            responses.append(
                {
                    "Drug_ID": drug,
                    "prompt": prompt,
                    "response": _activity_answer(facts, pic50[drug], bool(says), right, style),
                    "prediction": says,
                }
            )
    folder = root / "pampa"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "molecules.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["Drug_ID", "Drug", "Y"])
        writer.writeheader()
        writer.writerows(molecules)
    write_jsonl(folder / "responses.jsonl", responses)
    import rdkit

    return {
        "gold": f"the answer whose class matches the measured pIC50 (>= {ACTIVE_PIC50} high) is right; "
        "the wrong one misreads the comparison or contradicts it",
        "source": f"rdkit {rdkit.__version__} wheel (BSD-3): Contrib/FreeWilson/data/{CHEMBL_ASSAY}.smi "
        f"+ _act.csv; molecules alternate high and low-to-moderate",
        "items": {"pampa": len(responses)},
    }


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
}


def family_of(benchmark: str) -> str:
    """The mini family that builds a benchmark."""
    for prefix, family in (
        ("mllm_judge", "mllm_judge"),
        ("mj_bench", "mj_bench"),
        ("genai_bench", "genai_bench"),
        ("nisqa", "speech"),
        ("bvcc", "speech"),
        ("somos", "speech"),
        ("voxsim", "voxsim"),
        ("judgelm_val", "text"),
        ("pandalm", "text"),
        ("pampa", "molecules"),
        ("vl_rewardbench", "vl_rewardbench"),
        ("mm_rewardbench", "mm_rewardbench"),
    ):
        if benchmark.startswith(prefix):
            return family
    raise KeyError(f"no mini version of {benchmark!r}; families: {sorted(FAMILIES)}")
