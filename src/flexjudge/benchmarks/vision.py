"""Adapters for the image and video judge benchmarks, each reading its official release format.

Field names and label encodings follow each benchmark's own release (data card, loader or scoring
script): MLLM-as-a-Judge (`Dongping-Chen/MLLM-Judge`, Benchmark/{pair,score,batch}.jsonl),
VL-RewardBench (`MMInstruction/VL-RewardBench` parquet, or the GitHub data.jsonl with image_path),
MJ-Bench (`MJ-Bench/MJ-Bench` 2024 release: one parquet split per perspective, or the raw JSON lists),
GenAI-Bench (`TIGER-Lab/GenAI-Bench` test_v1 parquet per task) and Multimodal RewardBench
(`facebookresearch/multimodal_rewardbench` data/all_data.json).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flexjudge.benchmarks.base import (
    Adapter,
    Source,
    json_list_rows,
    jsonl_rows,
    need,
    number,
    number_rows,
    parquet_rows,
    sequence,
)
from flexjudge.core.io import DataError
from flexjudge.data.schemas import JudgeItem

# -- MLLM-as-a-Judge ------------------------------------------------------------------------------

#: human_answer in the pair setting: A = answer1 better, B = answer2 better, C = tie.
MLLM_PAIR_GOLD = {"A": "A", "B": "B", "C": "tie"}


def _mllm_rows(source: Source, options: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    path = source.path / f"{options['setting']}.jsonl" if source.path.is_dir() else source.path
    yield from jsonl_rows(path)


def _mllm_image(row: dict[str, Any], where: str, source: Source) -> dict[str, Any]:
    # pair/score name bare files ("0.jpg"), batch prefixes "image/"; all live flat in the image folder
    return source.media("image", Path(need(row, "image_path", str, where)).name, where)


def _mllm_item(row: dict[str, Any], where: str, source: Source, options: dict[str, Any]) -> JudgeItem:
    setting = options["setting"]
    subset = str(need(row, "original_dataset", str, where))
    question = need(row, "instruction", str, where)
    image = _mllm_image(row, where, source)
    if setting == "pair":
        label = need(row, "human_answer", str, where)
        if label not in MLLM_PAIR_GOLD:
            raise DataError(f"{where}: human_answer must be A, B or C (tie), got {label!r}")
        answers = (need(row, "answer1.answer", str, where), need(row, "answer2.answer", str, where))
        ident = f"pair-{row.get('pair_id', where)}"
        return JudgeItem(
            ident, question, answers, MLLM_PAIR_GOLD[label], subset, media=(image,), source=where
        )
    if setting == "score":
        score = number(row, "human", where)
        if not 1 <= score <= 5:
            raise DataError(f"{where}: human score must be within 1..5, got {score}")
        answer = need(row, "answer", str, where)
        ident = f"score-{row.get('score_id', where)}"
        return JudgeItem(ident, question, (answer,), score, subset, media=(image,), source=where)
    answers = tuple(need(a, "answer", str, where) for a in sequence(row, "answers", where))
    ranking = need(row, "human_answer", str, where)
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[: len(answers)]
    if sorted(ranking) != sorted(letters):
        raise DataError(f"{where}: human_answer {ranking!r} must order the letters {letters} (best first)")
    return JudgeItem(
        f"batch-{row.get('id', where)}", question, answers, ranking, subset, media=(image,), source=where
    )


MLLM_JUDGE = Adapter(
    _mllm_rows,
    _mllm_item,
    "MLLM-as-a-Judge Benchmark/{pair,score,batch}.jsonl: instruction, image_path, answer1/answer2 "
    "{name, answer} + human_answer A/B/C (pair), answer + human 1-5 (score), answers[] + human_answer "
    "ranking best first (batch); original_dataset is the subset",
)

# -- VL-RewardBench -------------------------------------------------------------------------------

#: Category of an item by its image folder (GitHub release) or id prefix (hub parquet).
VLRB_FOLDERS = {
    "vlfeedback": "general",
    "wildvision-battle": "general",
    "povid": "hallucination",
    "rlhf-v": "hallucination",
    "rlaif-v": "hallucination",
    "reasoning_tasks": "reasoning",
}
VLRB_PREFIXES = {
    "mathverse": "reasoning",
    "mmmu": "reasoning",
    "hallucination": "hallucination",
    "rlhf": "hallucination",
    "rlaif": "hallucination",
}


def vlrb_category(row: dict[str, Any], where: str) -> str:
    """General / hallucination / reasoning, as the benchmark's scoring derives it."""
    image_path = row.get("image_path")
    if isinstance(image_path, str) and "/" in image_path:
        folder = image_path.split("/")[1] if image_path.startswith("images/") else image_path.split("/")[0]
        if folder in VLRB_FOLDERS:
            return VLRB_FOLDERS[folder]
    ident = need(row, "id", str, where)
    return VLRB_PREFIXES.get(ident.split("-")[0].split("_")[0].lower(), "general")


def _vlrb_rows(source: Source, options: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    if source.path.suffix == ".jsonl":
        yield from jsonl_rows(source.path)
    else:
        yield from parquet_rows(source.path)


def _vlrb_item(row: dict[str, Any], where: str, source: Source, options: dict[str, Any]) -> JudgeItem:
    responses = sequence(row, "response", where)
    ranking = sequence(row, "human_ranking", where)
    if len(responses) != 2 or sorted(int(r) for r in ranking) != [0, 1]:
        raise DataError(f"{where}: expected 2 responses and human_ranking [0, 1] or [1, 0], got {ranking!r}")
    image = (
        source.media("image", row["image_path"], where)
        if isinstance(row.get("image_path"), str)
        else source.embedded("image", need(row, "image", dict, where), where)
    )
    gold = "A" if int(ranking[0]) == 0 else "B"  # rank 0 = the better response
    return JudgeItem(
        str(need(row, "id", str, where)),
        need(row, "query", str, where),
        (str(responses[0]), str(responses[1])),
        gold,
        vlrb_category(row, where),
        media=(image,),
        source=where,
    )


VL_REWARDBENCH = Adapter(
    _vlrb_rows,
    _vlrb_item,
    "VL-RewardBench: id, query, response[2], human_ranking ([0, 1]: response 0 better), image "
    "(parquet bytes) or image_path (data.jsonl); category from the image folder or id prefix",
)

# -- MJ-Bench -------------------------------------------------------------------------------------

MJ_QUESTION = {
    "alignment": "Which generated image follows the text-to-image prompt more faithfully?",
    "safety": "Which generated image is safer to show for this prompt (no toxic, shocking or NSFW content)?",
    "quality": "Which generated image has higher visual quality (no distortions, artifacts or blur)?",
}


def _mj_rows(source: Source, options: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    perspective = options["perspective"]
    if source.path.is_file():
        files = [source.path]
    else:  # the hub release: one split (parquet) per perspective; raw releases: JSON lists under <perspective>/
        files = sorted(source.path.glob(f"**/{perspective}*.parquet")) or sorted(
            (source.path / perspective).rglob("*.json")
        )
    if not files:
        raise DataError(f"{source.path}: no {perspective} split (parquet) or {perspective}/**/*.json")
    yield from number_rows(
        row
        for file in files
        for row in (parquet_rows(file) if file.suffix == ".parquet" else json_list_rows(file))
    )


def _mj_image(row: dict[str, Any], key: str, where: str, source: Source) -> dict[str, Any]:
    value = need(row, key, (str, dict, bytes), where)
    return (
        source.media("image", value, where)
        if isinstance(value, str)
        else source.embedded("image", value, where)
    )


def _mj_item(row: dict[str, Any], where: str, source: Source, options: dict[str, Any]) -> JudgeItem:
    perspective = options["perspective"]
    label = int(number(row, "label", where))
    if label not in (0, 1):
        raise DataError(f"{where}: label must be 0 (image0 preferred) or 1 (image1 preferred), got {label}")
    caption = need(row, "caption", str, where)
    images = (_mj_image(row, "image0", where, source), _mj_image(row, "image1", where, source))
    ident = f"{perspective}-{row.get('id') or row['_index']}"
    return JudgeItem(
        ident,
        f"{MJ_QUESTION[perspective]}\nPrompt: {caption}",
        ("the first image", "the second image"),
        "A" if label == 0 else "B",
        perspective,
        answer_media=((images[0],), (images[1],)),
        source=where,
    )


MJ_BENCH = Adapter(
    _mj_rows,
    _mj_item,
    "MJ-Bench (2024 release): split per perspective (alignment, safety, quality); caption, image0, "
    "image1 (bytes or file name), label 0/1 = index of the preferred image",
)

# -- GenAI-Bench ----------------------------------------------------------------------------------

#: vote_type → the four-way verdict (left = A, right = B).
GENAI_GOLD = {"leftvote": "A>B", "rightvote": "B>A", "tievote": "tie_good", "bothbad_vote": "tie_bad"}
GENAI_TASKS = ("image_generation", "image_edition", "video_generation")


def _genai_rows(source: Source, options: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    task = options["task"]
    path = source.path / task if (source.path / task).is_dir() else source.path
    files = [path] if path.is_file() else sorted(path.glob(f"{options.get('split', 'test_v1')}-*.parquet"))
    if not files:
        raise DataError(f"{path}: no {options.get('split', 'test_v1')}-*.parquet for task {task}")
    for file in files:
        yield from parquet_rows(file)


def _genai_media(
    row: dict[str, Any], key: str, kind: str, where: str, source: Source, fps: float | None = None
) -> dict[str, Any]:
    """An image or video of a row: embedded bytes, or a file / frame folder under media_root (a
    frame folder's rate is the `source_fps` option: decode the released mp4s at that rate)."""
    value = need(row, key, (str, dict, bytes), where)
    if not isinstance(value, str):
        return source.embedded(kind, value, where)
    if value.startswith(("http://", "https://")):  # released as URLs: download into media_root first
        value = value.rstrip("/").rsplit("/", 1)[-1]
    part = source.media(kind, value, where)
    return {**part, "fps": fps} if kind == "video" and fps else part


def _genai_item(row: dict[str, Any], where: str, source: Source, options: dict[str, Any]) -> JudgeItem:
    task = options["task"]
    vote = need(row, "vote_type", str, where)
    if vote not in GENAI_GOLD:
        raise DataError(f"{where}: vote_type must be one of {sorted(GENAI_GOLD)}, got {vote!r}")
    index = row["_index"]
    if task == "image_edition":
        question = (
            "Which edited image better carries out the editing instruction on the source image?\n"
            f"Instruction: {need(row, 'instruct_prompt', str, where)}\n"
            f"Source caption: {need(row, 'source_prompt', str, where)}\n"
            f"Target caption: {need(row, 'target_prompt', str, where)}"
        )
        media = (_genai_media(row, "source_image", "image", where, source),)
        keys, kind = ("left_output_image", "right_output_image"), "image"
    else:
        kind = "video" if task == "video_generation" else "image"
        question = f"Which generated {kind} better follows the prompt, with higher quality?\nPrompt: {need(row, 'prompt', str, where)}"
        media = ()
        keys = (f"left_{kind}", f"right_{kind}")
    fps = options.get("source_fps")
    outputs = tuple((_genai_media(row, k, kind, where, source, fps),) for k in keys)
    return JudgeItem(
        f"{task}-{index}",
        question,
        (f"the first {kind}", f"the second {kind}"),
        GENAI_GOLD[vote],
        task,
        media=media,
        answer_media=outputs,
        source=where,
    )


GENAI_BENCH = Adapter(
    _genai_rows,
    _genai_item,
    "GenAI-Bench <task>/test_v1-*.parquet: prompt (or source/target/instruct prompts and source_image "
    "for editing), left_/right_ image, output_image or video, vote_type leftvote/rightvote/tievote/bothbad_vote",
)

# -- Multimodal RewardBench -----------------------------------------------------------------------


def mmrb_category(row: dict[str, Any], where: str) -> str:
    """The category, with safety and reasoning split by ID prefix as the benchmark's scoring does."""
    category = need(row, "Category", str, where)
    ident = need(row, "ID", str, where)
    if category == "safety":
        return "safety/bias" if ident.startswith("pairs") else "safety/toxicity"
    if category == "reasoning":
        return "reasoning/math" if ident.startswith("math") else "reasoning/coding"
    return category


def _mmrb_rows(source: Source, options: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    yield from json_list_rows(source.path / "all_data.json" if source.path.is_dir() else source.path)


def _mmrb_item(row: dict[str, Any], where: str, source: Source, options: dict[str, Any]) -> JudgeItem:
    better = need(row, "Better", str, where)
    if better not in ("Output1", "Output2"):
        raise DataError(f"{where}: Better must be Output1 or Output2, got {better!r}")
    return JudgeItem(
        need(row, "ID", str, where),
        need(row, "Text", str, where),
        (need(row, "Output1", str, where), need(row, "Output2", str, where)),
        "A" if better == "Output1" else "B",
        mmrb_category(row, where),
        media=(source.media("image", need(row, "Image", str, where), where),),
        source=where,
    )


MM_REWARDBENCH = Adapter(
    _mmrb_rows,
    _mmrb_item,
    "Multimodal RewardBench data/all_data.json: ID, Text, Image (relative to data/), Output1, Output2, "
    "Better (Output1/Output2), Category",
)
