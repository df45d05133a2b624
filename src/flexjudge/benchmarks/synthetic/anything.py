"""Mini JudgeAnything in the release layout (`benchmarks.anything`): every one of the 15 any-to-any settings,
from our shape scenes (images, and frame-folder videos of a scene moving), and espeak-ng speech.

A query's content is a scene ("three red circles") or a spoken sentence; a right response renders what the
query asks (the scene, the scene edited, the sentence spoken) and a wrong one gets one attribute or the
sentence wrong. The human choice is set by construction: the first better, the second better, or a tie
(both right or both wrong). Settings are interleaved (item k of every setting before item k + 1), so the
first 15 items cover all 15. Files are named as the release names them (.jpg, .mp4, .mp3); a video is
written as the frame folder of its name without .mp4, and audio as the .wav beside its .mp3 name, which is
what the adapter reads.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from flexjudge.benchmarks.anything import HUMAN, QUERIES, RESPONSES, SETTINGS, human_row
from flexjudge.benchmarks.synthetic.common import COLOURS, Scene, draw, perturb, random_scene, save
from flexjudge.benchmarks.synthetic.speech import SENTENCES, VOICES, espeak
from flexjudge.core.io import write_json

MODELS = ("mini-a", "mini-b")
FRAMES = 4


def _question(task: str, scene: Scene, target: Scene, sentence: str) -> str:
    return {
        "Text2Text": f"Name the shapes of this list in a short phrase: {scene.describe()}.",
        "Image2Text": "What does the image show?",
        "Video2Text": "What does the video show?",
        "Audio2Text": "What does the speaker say?",
        "AudioVideo2Text": "What does the video show, and what does the speaker say?",
        "Text2Image": f"Draw {scene.describe()}.",
        "Text2Video": f"Make a short video of {scene.describe()} moving to the right.",
        "Text2Audio": f"Say this sentence aloud: {sentence}",
        "Image2Image": f"Make the shapes {target.colour}.",
        "Image2Video": "Animate the image: the shapes move to the right.",
        "Image2Audio": "Describe the image aloud.",
        "Video2Video": f"Make the shapes in the video {target.colour}.",
        "Video2Audio": "Narrate what the video shows.",
        "Audio2Video": "Make a short video of what the speaker describes.",
        "Audio2Audio": "Repeat what the speaker says, in another voice.",
    }[task]


class _Writer:
    """Writes media under the release's folders and returns the paths its JSON files store."""

    def __init__(self, base: Path, rng: np.random.Generator):
        self.base, self.rng = base, rng

    def image(self, folder: str, name: str, scene: Scene) -> str:
        save(draw(scene, self.rng), self.base / folder / f"{name}.jpg")
        return f"{name}.jpg"

    def video(self, folder: str, name: str, scene: Scene) -> str:
        seed = int(self.rng.integers(2**31))
        for t in range(FRAMES):
            save(
                draw(scene, np.random.default_rng(seed), shift=t / 12),
                self.base / folder / name / f"{t:03d}.png",
            )
        return f"{name}.mp4"

    def audio(self, folder: str, name: str, text: str) -> str:
        espeak(text, VOICES[int(self.rng.integers(len(VOICES)))], self.base / folder / f"{name}.wav")
        return f"{name}.mp3"


def build_judge_anything(root: Path, n: int, rng: np.random.Generator, **_: Any) -> dict[str, Any]:
    """dataset/{X2XRawBenchmark/TaskAnything.json, ResponseCollection/JudgeAnything.json,
    Preference/Human_Pairing.json} with n pairs per setting (15 n in all), and their media."""
    base = root / "JudgeAnything" / "dataset"
    inputs, outputs = _Writer(base / "X2XRawBenchmark", rng), _Writer(base / "ResponseCollection", rng)
    per = n
    queries, responses, human = [], [], []
    for k in range(per):
        for task in SETTINGS:
            uid = f"{task.lower()}-{k}"
            source, kind = task.split("2")
            scene = random_scene(rng)
            target = replace(scene, colour=str(rng.choice([c for c in COLOURS if c != scene.colour])))
            i, j = rng.choice(len(SENTENCES), size=2, replace=False)
            sentence, other = SENTENCES[int(i)], SENTENCES[int(j)]
            query: dict[str, Any] = {
                "uniq_id": uid,
                "task_name": task,
                "question": _question(task, scene, target, sentence),
            }
            if source == "Image":
                query["image_path"] = "images/mini/" + inputs.image("images/mini", uid, scene)
            if source in ("Video", "AudioVideo"):
                query["video_path"] = "videos/mini/" + inputs.video("videos/mini", uid, scene)
            if source in ("Audio", "AudioVideo"):
                spoken = scene.describe() if task == "Audio2Video" else sentence
                query["audio_path"] = "audios/mini/" + inputs.audio("audios/mini", uid, spoken)
            queries.append(query)
            choice = str(rng.choice(["0", "2", "1"], p=[0.4, 0.4, 0.2]))
            tie_right = bool(rng.integers(2))
            right = {"0": (True, False), "2": (False, True), "1": (tie_right, tie_right)}[choice]
            shown = target if task in ("Image2Image", "Video2Video") else scene
            for model, ok in zip(MODELS, right, strict=True):
                scene_out = shown if ok else perturb(shown, rng)
                said = sentence if ok else other
                name = f"{uid}_{model}"
                if (
                    kind == "Text" and source == "AudioVideo"
                ):  # a wrong answer gets the scene or the sentence wrong
                    wrong_scene = not ok and bool(rng.integers(2))
                    seen = scene_out if wrong_scene else shown
                    heard = sentence if ok or wrong_scene else other
                    response = {"type": "text", "content": f"{seen.describe()}; the speaker says: {heard}"}
                elif kind == "Text":
                    text = said if source == "Audio" else scene_out.describe()
                    response = {"type": "text", "content": text}
                elif kind == "Image":
                    response = {
                        "type": "image",
                        "content": f"Image/{task}/" + outputs.image(f"Image/{task}", name, scene_out),
                    }
                elif kind == "Video":
                    response = {
                        "type": "video",
                        "content": f"Video/{task}/" + outputs.video(f"Video/{task}", name, scene_out),
                    }
                else:
                    words = said if source in ("Text", "Audio") else scene_out.describe()
                    response = {
                        "type": "audio",
                        "content": f"Audio/{task}/" + outputs.audio(f"Audio/{task}", name, words),
                    }
                responses.append(
                    {
                        "uniq_id": uid,
                        "response_id": f"{len(responses):08x}",
                        "task_name": task,
                        "model_name": model,
                        "response": response,
                    }
                )
            human.append(human_row(uid, *MODELS, choice, task))
    write_json(base / QUERIES, queries)
    write_json(base / RESPONSES, responses)
    write_json(base / HUMAN, human)
    ties = sum(h["choice"] == "1" for h in human)
    return {
        "gold": "the response that renders what the query asks (the scene, its edit, the sentence) is better; "
        f"both right or both wrong is a tie ({ties} of {len(human)})",
        "items": {"judge_anything": len(human)},
    }
