"""Rebuild the five 5-row example files of docs/judge.md and their media (pictures drawn with PIL, speech
spoken by espeak-ng at a natural and a rushed rate). Run from this folder: ../../.venv/bin/python make_examples.py"""

import json
import subprocess

from PIL import Image, ImageDraw


def write(name, rows):
    with open(name, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)


shapes = [
    ("red", "circle"),
    ("blue", "square"),
    ("green", "triangle"),
    ("yellow", "circle"),
    ("black", "square"),
]
wrong = ["a blue square", "a red circle", "a yellow circle", "a green triangle", "a white star"]
rows = []
for i, (colour, shape) in enumerate(shapes):
    img = Image.new("RGB", (96, 96), "white")
    draw = ImageDraw.Draw(img)
    if shape == "circle":
        draw.ellipse((18, 18, 78, 78), fill=colour)
    elif shape == "square":
        draw.rectangle((18, 18, 78, 78), fill=colour)
    else:
        draw.polygon([(48, 14), (82, 80), (14, 80)], fill=colour)
    img.save(f"media/shape{i}.png")
    right = i % 2 == 0  # rows 0, 2, 4 describe the picture; rows 1, 3 do not
    rows.append(
        {
            "id": f"shape{i}",
            "prompt": "Describe the shape in the picture in a few words.",
            "response": f"A {colour} {shape}." if right else f"It is {wrong[i]}.",
            "media": f"media/shape{i}.png",
            "rubric": "Score 10 for the right colour and shape, 1 for both wrong.",
            "gold": 10 if right else 1,
        }
    )
write("images.jsonl", rows)

sentences = [
    "The weather is lovely today.",
    "Please close the door behind you.",
    "Seven green apples fell from the tree.",
    "Our train leaves at nine in the morning.",
    "She reads a book every week.",
]
rows = []
for i, sentence in enumerate(sentences):
    speed = 175 if i % 2 == 0 else 370  # words per minute: natural, then rushed
    subprocess.run(["espeak-ng", "-s", str(speed), "-w", f"media/speech{i}.wav", sentence], check=True)
    rows.append(
        {
            "id": f"speech{i}",
            "prompt": f'Rate how natural and clear this reading of the sentence is: "{sentence}"',
            "response": "(the recording)",
            "response_media": [[f"media/speech{i}.wav"]],
        }
    )
write("audio.jsonl", rows)

pairs = [
    (
        "What is the boiling point of water at sea level in Celsius?",
        "100 degrees Celsius.",
        "About 50 degrees.",
        "A",
    ),
    ("Give a synonym of 'happy'.", "Sad.", "Joyful.", "B"),
    ("How many legs does a spider have?", "Eight.", "Six.", "A"),
    ("Translate 'gato' from Spanish.", "Dog.", "Cat.", "B"),
    ("Is the Earth flat?", "No, it is roughly a sphere.", "Yes, it is flat.", "A"),
]
write(
    "pairs.jsonl",
    [{"id": f"pair{i}", "prompt": q, "responses": [a, b], "gold": g} for i, (q, a, b, g) in enumerate(pairs)],
)

molecules = [
    ("CCO", "Ethanol is small and polar but crosses membranes readily. Final answer: high"),
    (
        "OC(=O)CC(O)(CC(=O)O)C(=O)O",
        "Citric acid carries three charged acids at pH 7.4. Final answer: low-to-moderate",
    ),
    ("c1ccccc1", "Benzene is very polar, so it cannot cross a membrane. Final answer: low-to-moderate"),
    (
        "CC(=O)Oc1ccccc1C(=O)O",
        "Aspirin is a small lipophilic acid with good passive permeability. Final answer: high",
    ),
    (
        "NCCCC[C@H](N)C(=O)O",
        "Lysine is greasy and neutral, so it crosses membranes easily. Final answer: high",
    ),
]
write(
    "molecules.jsonl",
    [
        {
            "id": f"mol{i}",
            "smiles": smiles,
            "prompt": "Is this molecule's PAMPA permeability high or low-to-moderate? Explain, then give a final answer.",
            "response": response,
            "rubric": "Judge the chemistry of the reasoning and whether the final answer follows from it.",
        }
        for i, (smiles, response) in enumerate(molecules)
    ],
)

ranking = [
    ("Name a prime number.", ["4", "7", "9"], "BAC"),
    ("Which is a fruit?", ["Carrot", "Potato", "Apple"], "CAB"),
    ("What colour is the sky on a clear day?", ["Blue", "Green", "Red"], "ABC"),
    ("What is 3 x 3?", ["6", "9", "12"], "BAC"),
    ("Which animal barks?", ["Cat", "Cow", "Dog"], "CAB"),
]
write(
    "ranking.jsonl",
    [{"id": f"rank{i}", "prompt": q, "responses": r, "gold": g} for i, (q, r, g) in enumerate(ranking)],
)
