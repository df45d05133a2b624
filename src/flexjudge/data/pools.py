"""Pools of judge examples: JudgeLM-100K, hh-rlhf, any JSONL with a field mapping, or RLHF-V's image-text
preference pairs (the paper's Table 5 ablation) → `PoolRow`s.

A pool row is a question with two answers in a fixed order (A, B) and its gold: a pair of 1–10 scores
(JudgeLM: GPT-4's) and/or the preferred answer (A, B or tie; from the scores when there are any). A
malformed row raises DataError naming file:line and the field (`on_bad_row=error`), or is counted by
reason and left out (`on_bad_row=skip`).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flexjudge.core.io import DataError, iter_jsonl, stable_hash
from flexjudge.data.hh_rlhf import read_hh_rlhf

PREFERENCES = ("A", "B", "tie")
SCORE_RANGE = (1.0, 10.0)


@dataclass(frozen=True)
class PoolRow:
    """A pool example: question, answers (A, B), gold scores (1–10, or None) and preferred answer."""

    id: str
    question: str
    answers: tuple[str, str]
    scores: tuple[float, float] | None
    preferred: str  # A | B | tie
    source: str  # file:line
    # the question's media parts ({"type": "image", "path"}), paths relative to the pool file's folder
    media: tuple[dict[str, Any], ...] = ()

    def to_row(self) -> dict[str, Any]:
        row = {
            "id": self.id,
            "question": self.question,
            "answers": list(self.answers),
            "scores": list(self.scores) if self.scores else None,
            "preferred": self.preferred,
            "source": self.source,
        }
        return {**row, "media": [dict(m) for m in self.media]} if self.media else row

    def media_parts(self, root: str | Path) -> tuple[dict[str, Any], ...]:
        """The media parts with paths under `root` (the pool file's folder), as the engine reads them."""
        return tuple({**m, "path": str(Path(root) / m["path"])} for m in self.media)

    @classmethod
    def from_row(cls, row: dict[str, Any], where: str) -> PoolRow:
        """Read a row written by `to_row` (the curate stage's pool.jsonl)."""
        try:
            scores = row["scores"]
            return cls(
                str(row["id"]),
                str(row["question"]),
                (str(row["answers"][0]), str(row["answers"][1])),
                (float(scores[0]), float(scores[1])) if scores else None,
                str(row["preferred"]),
                str(row.get("source", where)),
                tuple(dict(m) for m in row.get("media") or ()),
            )
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise DataError(f"{where}: not a pool row ({exc!r}); rebuild it with the curate stage") from None


def preference_of(scores: tuple[float, float]) -> str:
    """A, B or tie from a pair of scores."""
    return "A" if scores[0] > scores[1] else "B" if scores[1] > scores[0] else "tie"


class BadRow(Exception):
    """A row to count and skip (or to raise as DataError): `reason` is its counter key."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def _text(row: Mapping[str, Any], name: str) -> str:
    value = row.get(name)
    if not isinstance(value, str):
        got = "missing" if name not in row else type(value).__name__
        raise BadRow("missing_field", f"field {name!r} must be text ({got})")
    if not value.strip():
        raise BadRow("empty_field", f"field {name!r} is empty")
    return value


def _scores(value: Any, name: str) -> tuple[float, float]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise BadRow("bad_scores", f"field {name!r} must be a pair of scores [s1, s2], got {value!r:.60}")
    try:
        pair = (float(value[0]), float(value[1]))
    except (TypeError, ValueError):
        raise BadRow("bad_scores", f"field {name!r} must hold two numbers, got {value!r:.60}") from None
    low, high = SCORE_RANGE
    if any(math.isnan(s) or not low <= s <= high for s in pair):
        raise BadRow("score_out_of_range", f"field {name!r}: scores {pair} must lie in {low:g}-{high:g}")
    return pair


def _preference(value: Any, name: str) -> str:
    labels = {"A": "A", "B": "B", "tie": "tie", 1: "A", 2: "B", 0: "tie"}
    if isinstance(value, bool) or value not in labels:
        raise BadRow("bad_preference", f"field {name!r} must be A, B, tie (or 1, 2, 0), got {value!r:.40}")
    return labels[value]


def judgelm_row(row: Mapping[str, Any], where: str, n: int) -> PoolRow:
    """JudgeLM-100K: question_body, answer1_body, answer2_body, score [s1, s2] (GPT-4, 1–10)."""
    scores = _scores(row.get("score"), "score")
    qid = row.get("question_id", row.get("review_id", n))
    return PoolRow(
        f"judgelm-{qid}",
        _text(row, "question_body"),
        (_text(row, "answer1_body"), _text(row, "answer2_body")),
        scores,
        preference_of(scores),
        where,
    )


def mapped_row(fields: Mapping[str, str | None]) -> Callable[[Mapping[str, Any], str, int], PoolRow]:
    """A reader for any JSONL: `fields` names the columns of question, answer1, answer2 and either
    scores (a [s1, s2] column) or preferred (A/B/tie or 1/2/0); `id` is optional (else the line number)."""
    missing = [k for k in ("question", "answer1", "answer2") if not fields.get(k)]
    if missing or not (fields.get("scores") or fields.get("preferred")):
        raise ValueError(
            f"pool.fields={dict(fields)}: name the columns of question, answer1, answer2 and scores "
            f"or preferred (missing: {missing or ['scores or preferred']})"
        )

    def read(row: Mapping[str, Any], where: str, n: int) -> PoolRow:
        scores = _scores(row.get(fields["scores"]), fields["scores"]) if fields.get("scores") else None
        preferred = (
            preference_of(scores)
            if scores
            else _preference(row.get(fields["preferred"]), fields["preferred"])  # type: ignore[arg-type]
        )
        ident = row.get(fields["id"]) if fields.get("id") else n
        return PoolRow(
            f"pool-{ident}",
            _text(row, fields["question"]),  # type: ignore[arg-type]
            (_text(row, fields["answer1"]), _text(row, fields["answer2"])),  # type: ignore[arg-type]
            scores,
            preferred,
            where,
        )

    return read


def _skip_or_raise(bad: BadRow, where: str, on_bad_row: str, skipped: Counter) -> None:
    """A bad row: a DataError naming it (on_bad_row=error), else counted by reason."""
    if on_bad_row == "error":
        raise DataError(f"{where}: {bad} (set pool.on_bad_row=skip to count and skip such rows)") from None
    skipped[bad.reason] += 1


def _placed(seed: int, ident: str, chosen: str, rejected: str) -> tuple[tuple[str, str], str]:
    """(answers, preferred): the chosen answer placed as A or B by a seeded coin per row."""
    chosen_first = int(stable_hash("pool-order", seed, ident), 16) % 2 == 0
    return ((chosen, rejected), "A") if chosen_first else ((rejected, chosen), "B")


def _jsonl_pool(
    path: Path, read: Callable[[Mapping[str, Any], str, int], PoolRow], on_bad_row: str
) -> tuple[list[PoolRow], Counter]:
    rows: list[PoolRow] = []
    skipped: Counter = Counter()
    seen: set[str] = set()
    for lineno, raw in iter_jsonl(path):
        where = f"{path}:{lineno}"
        try:
            row = read(raw, where, lineno)
            if row.answers[0].strip() == row.answers[1].strip():
                raise BadRow("identical_answers", "the two answers are identical")
            if row.id in seen:
                raise BadRow("duplicate_id", f"id {row.id!r} appears on an earlier line")
            seen.add(row.id)
        except BadRow as bad:
            _skip_or_raise(bad, where, on_bad_row, skipped)
            continue
        rows.append(row)
    return rows, skipped


def hh_rlhf_pool(path: Path, on_bad_row: str, seed: int) -> tuple[list[PoolRow], Counter]:
    """hh-rlhf pairs: the human-chosen reply is placed as A or B by a seeded coin per pair."""
    items, skipped = read_hh_rlhf(path, on_bad_row=on_bad_row)
    rows = []
    for item in items:
        answers, preferred = _placed(seed, item.id, item.chosen, item.rejected)
        rows.append(PoolRow(item.id, item.question, answers, None, preferred, item.source))
    return rows, skipped


def rlhfv_pool(path: Path, on_bad_row: str, seed: int, media_dir: Path) -> tuple[list[PoolRow], Counter]:
    """RLHF-V (openbmb/RLHF-V-Dataset, one parquet): `text` a JSON string {question, chosen, rejected}
    (`chosen` the human-corrected answer), `image` {bytes, path}, `idx`. Each image is written once to
    `media_dir`, named by its content hash; the chosen answer is placed as A or B by a seeded coin per row."""
    import pandas as pd

    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow's errors vary by what is wrong with the file
        raise DataError(f"{path}: not a readable parquet file ({exc})") from exc
    missing = {"text", "image"} - set(frame.columns)
    if missing:
        raise DataError(f"{path}: an RLHF-V file has the columns text and image; missing {sorted(missing)}")
    rows: list[PoolRow] = []
    skipped: Counter = Counter()
    seen: set[str] = set()
    for i, raw in enumerate(frame.to_dict("records")):
        where = f"{path}[{i}]"
        try:
            ident = f"rlhfv-{raw.get('idx', i)}"
            if ident in seen:
                raise BadRow("duplicate_id", f"idx {raw.get('idx', i)!r} appears on an earlier row")
            seen.add(ident)
            try:
                text = json.loads(raw["text"]) if isinstance(raw["text"], str) else None
            except json.JSONDecodeError:
                text = None
            if not isinstance(text, dict):
                raise BadRow("bad_text", "field 'text' must be a JSON object {question, chosen, rejected}")
            question, chosen, rejected = (_text(text, k) for k in ("question", "chosen", "rejected"))
            if chosen.strip() == rejected.strip():
                raise BadRow("identical_answers", "the chosen and the rejected answer are identical")
            image = raw["image"]
            data = image.get("bytes") if isinstance(image, dict) else None
            if not isinstance(data, bytes | bytearray) or not data:
                raise BadRow("missing_image", "field 'image' holds no image bytes")
            name = hashlib.sha256(data).hexdigest()[:24] + (Path(image.get("path") or "").suffix or ".png")
            if not (media_dir / name).exists():
                media_dir.mkdir(parents=True, exist_ok=True)
                (media_dir / f"{name}.tmp").write_bytes(bytes(data))
                (media_dir / f"{name}.tmp").replace(media_dir / name)
        except BadRow as bad:
            _skip_or_raise(bad, where, on_bad_row, skipped)
            continue
        answers, preferred = _placed(seed, ident, chosen, rejected)
        media = ({"type": "image", "path": f"{media_dir.name}/{name}"},)
        rows.append(PoolRow(ident, question, answers, None, preferred, where, media))
    return rows, skipped


POOL_FORMATS = ("judgelm", "hh_rlhf", "jsonl", "rlhfv")


def read_pool(
    path: str | Path,
    fmt: str,
    *,
    on_bad_row: str = "error",
    fields: Mapping[str, str | None] | None = None,
    seed: int = 0,
    media_dir: str | Path | None = None,
) -> tuple[list[PoolRow], Counter]:
    """Every usable row of a pool file (plain or .gz) and the skipped rows counted by reason; an image-text
    pool (rlhfv) writes its images to `media_dir` (beside the pool.jsonl the curate stage writes)."""
    if on_bad_row not in ("error", "skip"):
        raise ValueError(f"on_bad_row={on_bad_row!r}: choose error or skip")
    path = Path(path)
    if fmt == "judgelm":
        return _jsonl_pool(path, judgelm_row, on_bad_row)
    if fmt == "jsonl":
        return _jsonl_pool(path, mapped_row(fields or {}), on_bad_row)
    if fmt == "hh_rlhf":
        return hh_rlhf_pool(path, on_bad_row, seed)
    if fmt == "rlhfv":
        if media_dir is None:
            raise ValueError("pool.format=rlhfv writes its images: give media_dir")
        return rlhfv_pool(path, on_bad_row, seed, Path(media_dir))
    raise ValueError(f"pool.format={fmt!r}: choose from {POOL_FORMATS}")


def iter_pool(path: str | Path) -> Iterator[PoolRow]:
    """The rows of a pool.jsonl written by the curate stage."""
    for lineno, row in iter_jsonl(path):
        yield PoolRow.from_row(row, f"{path}:{lineno}")
