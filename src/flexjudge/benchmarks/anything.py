"""JudgeAnything (Pu et al. 2025), the pair-comparison "Overall" setting: any-to-any judging.

The release (github URRealHero/JudgeAnything, data on the hub as pudashi/JudgeAnything) lays out, under
its `dataset/` folder (the adapter's path and media root):

- `X2XRawBenchmark/TaskAnything.json`: a list of 1,500 queries, 100 per setting, each
  {uniq_id, task_name, question, image_path | video_path | audio_path} (a path, or a list of paths for
  several images; AudioVideo2Text items have both a video and an audio path), relative to X2XRawBenchmark/;
- `ResponseCollection/JudgeAnything.json`: the candidates, 4 per query, each {uniq_id, response_id,
  task_name, model_name, response: {type: text | image | video | audio, content}}; a media content is a
  path (or a list of paths) relative to ResponseCollection/;
- `Preference/Human_Pairing.json`: the human verdicts, one per pair and rubric.

An item is one human verdict: the query with its media, the two responses of `model_pair`
("<first>_vs_<second>", the first shown as A) with theirs, and the gold from `choice` ("0": the first is
better, "1": equally good, a tie, "2": the second is better), grouped by `task_name` (the 15 settings).
Only rows of `rubric_name` = the `rubric` option (overall_score) are read.

Our loader decodes frame folders and WAV files, not the release's .mp4 and .mp3: a path ending in .mp4 is
read as the frame folder of the same name without the suffix (at `source_fps` frames a second), and one
ending in .mp3 as the .wav beside it (docs/benchmarks.md, "JudgeAnything", gives the ffmpeg commands). What
of this layout is not confirmed from a release file is listed there too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flexjudge.benchmarks.base import Adapter, Source, json_list_rows, need
from flexjudge.core.io import DataError
from flexjudge.data.schemas import JudgeItem

#: The 15 settings as the release spells `task_name`, with the issue's arrows (input → output).
SETTINGS = {
    "Text2Text": "T→T",
    "Image2Text": "I→T",
    "Video2Text": "V→T",
    "Audio2Text": "A→T",
    "AudioVideo2Text": "V+A→T",
    "Text2Image": "T→I",
    "Text2Video": "T→V",
    "Text2Audio": "T→A",
    "Image2Image": "I→I",
    "Image2Video": "I→V",
    "Image2Audio": "I→A",
    "Video2Video": "V→V",
    "Video2Audio": "V→A",
    "Audio2Video": "A→V",
    "Audio2Audio": "A→A",
}
GOLD = {"0": "A", "1": "tie", "2": "B"}
QUERIES = "X2XRawBenchmark/TaskAnything.json"
RESPONSES = "ResponseCollection/JudgeAnything.json"
HUMAN = "Preference/Human_Pairing.json"


def _index(path: Path, key: Any, what: str) -> dict[Any, tuple[str, dict[str, Any]]]:
    """{key(row): (where, row)} of a JSON-list file; a repeated key is an error naming both rows."""
    out: dict[Any, tuple[str, dict[str, Any]]] = {}
    for where, row in json_list_rows(path):
        k = key(row, where)
        if k in out:
            raise DataError(f"{where}: {what} {k!r} appears twice (first at {out[k][0]})")
        out[k] = (where, row)
    return out


def _rows(source: Source, options: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each human verdict of the chosen rubric, joined with its query and its two responses."""
    base = source.path
    queries = _index(
        base / options.get("queries", QUERIES), lambda r, w: need(r, "uniq_id", str, w), "uniq_id"
    )
    responses = _index(
        base / options.get("responses", RESPONSES),
        lambda r, w: (need(r, "uniq_id", str, w), need(r, "model_name", str, w)),
        "(uniq_id, model_name)",
    )
    rubric = options.get("rubric", "overall_score")
    for where, row in json_list_rows(base / options.get("human", HUMAN)):
        if need(row, "rubric_name", str, where) != rubric:
            continue
        uid = need(row, "uniq_id", str, where)
        if uid not in queries:
            raise DataError(f"{where}: uniq_id {uid!r} is not in {base / options.get('queries', QUERIES)}")
        first, sep, second = need(row, "model_pair", str, where).partition("_vs_")
        if not (sep and first and second):
            raise DataError(f"{where}: model_pair {row['model_pair']!r} must be '<model>_vs_<model>'")
        pair = []
        for model in (first, second):
            if (uid, model) not in responses:
                raise DataError(
                    f"{where}: no response of model {model!r} to {uid!r} in {options.get('responses', RESPONSES)}"
                )
            pair.append(responses[(uid, model)])
        yield where, {**row, "_query": queries[uid], "_responses": pair}


def _path(source: Source, kind: str, relative: Any, folder: str, where: str, fps: float) -> dict[str, Any]:
    """A media part of the release, read as our loader takes it (.mp4 → its frame folder, .mp3 → .wav)."""
    if not isinstance(relative, str) or not relative:
        raise DataError(f"{where}: the {kind} path must be a non-empty string (got {relative!r})")
    if kind == "video" and relative.lower().endswith(".mp4"):
        relative = relative[: -len(".mp4")]
    elif kind == "audio" and relative.lower().endswith(".mp3"):
        relative = relative[: -len(".mp3")] + ".wav"
    part = source.media(kind, f"{folder}/{relative}", where)
    return {**part, "fps": fps} if kind == "video" else part


def _paths(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _item(row: dict[str, Any], where: str, source: Source, options: dict[str, Any]) -> JudgeItem:
    fps = float(options.get("source_fps", 1.0))
    q_where, query = row["_query"]
    task = need(query, "task_name", str, q_where)
    if task not in SETTINGS:
        raise DataError(f"{q_where}: task_name {task!r} is not one of the 15 settings {list(SETTINGS)}")
    choice = str(need(row, "choice", (str, int), where))
    if choice not in GOLD:
        raise DataError(f"{where}: choice {choice!r} must be 0 (first better), 1 (tie) or 2 (second better)")
    media = []
    for kind, key in (("video", "video_path"), ("audio", "audio_path"), ("image", "image_path")):
        if key in query:
            media += [_path(source, kind, p, "X2XRawBenchmark", q_where, fps) for p in _paths(query[key])]
    if task != "Text2Text" and task.split("2")[0] != "Text" and not media:
        raise DataError(
            f"{q_where}: a {task} query needs its input media ({task.split('2')[0].lower()}_path)"
        )
    answers, answer_media = [], []
    for r_where, response in row["_responses"]:
        kind = need(response, "response.type", str, r_where)
        content = need(response, "response.content", (str, list), r_where)
        if kind == "text":
            if not isinstance(content, str):
                raise DataError(f"{r_where}: a text response's content must be a string")
            answers.append(content)
            answer_media.append(())
        elif kind in ("image", "video", "audio"):
            parts = [_path(source, kind, p, "ResponseCollection", r_where, fps) for p in _paths(content)]
            answers.append(f"(the {kind}{' frames' if len(parts) > 1 else ''} above)")
            answer_media.append(tuple(parts))
        else:
            raise DataError(f"{r_where}: response.type {kind!r} must be text, image, video or audio")
    return JudgeItem(
        id=f"{need(row, 'uniq_id', str, where)}/{row['model_pair']}",
        question=need(query, "question", str, q_where),
        answers=tuple(answers),
        gold=GOLD[choice],
        subset=task,
        media=tuple(media),
        answer_media=tuple(answer_media),
        source=where,
    )


JUDGE_ANYTHING = Adapter(
    _rows,
    _item,  # type: ignore[arg-type]
    "JudgeAnything dataset/: X2XRawBenchmark/TaskAnything.json [{uniq_id, task_name, question, image_path|"
    "video_path|audio_path}], ResponseCollection/JudgeAnything.json [{uniq_id, model_name, response{type, "
    "content}}], Preference/Human_Pairing.json [{uniq_id, model_pair '<a>_vs_<b>', rubric_name, choice 0|1|2}]",
)


def human_row(uniq_id: str, first: str, second: str, choice: str, task: str) -> dict[str, Any]:
    """One Human_Pairing.json row as this adapter reads it (the minis and the tests write them)."""
    return {
        "uniq_id": uniq_id,
        "task_name": task,
        "model_pair": f"{first}_vs_{second}",
        "rubric_name": "overall_score",
        "choice": choice,
    }
