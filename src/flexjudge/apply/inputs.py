"""A user's own file to judge: JSONL rows → `JudgeItem`s, checked row by row (file:line and field named).

One JSON object per line (docs/judge.md has the full schema and examples):

    {"id": "q1",                          # optional; default: line<N>
     "prompt": "What is in the picture?", # required: the request the responses answer
     "responses": ["A cat.", "A dog."],   # or "response": "A cat." for one; how many the format takes
     "media": ["img/cat.png"],            # optional: the prompt's images / video (frame folder, GIF) / WAV
     "response_media": [["a.wav"], ["b.wav"]],  # optional: each response's own media (audio, images)
     "smiles": "CCO",                     # optional: a molecule the prompt is about (checked with rdkit;
                                          #   in the question's text, and as <mol> embeddings for a molecular judge)
     "reference": "A tabby cat.",         # optional: a reference answer the judge sees
     "rubric": "Reward precise answers.", # optional: what to judge by
     "gold": "A"}                         # optional: the expected verdict, for accuracy in the summary

Media paths are relative to the JSONL file's folder (or absolute); a frame folder's rate is given as
{"path": "clip/", "fps": 2}. The kind of a file follows its suffix: images .png .jpg .jpeg .webp .bmp,
video a folder or .gif, audio .wav.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flexjudge.benchmarks.molecules import molecule_question
from flexjudge.core.io import DataError, iter_jsonl_lines
from flexjudge.data.schemas import JudgeItem

FIELDS = (
    "id",
    "prompt",
    "response",
    "responses",
    "media",
    "response_media",
    "smiles",
    "reference",
    "rubric",
    "gold",
)
IMAGE = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
VIDEO = (".gif",)
AUDIO = (".wav",)

#: How many responses each format judges at once (None: two or more).
RESPONSES = {"score": 1, "pair_scores": 2, "pair_verdict": 2, "verdict4": 2, "batch": None}
#: The most responses a batch row can rank: they are labelled A to Z.
MAX_BATCH = 26
#: The longest text field a row may hold, in characters (about 250K tokens, beyond any judge's context);
#: a longer one is a clear error rather than a prompt that exhausts memory.
MAX_FIELD_CHARS = 1_000_000


@dataclass
class UserFile:
    """The items read from a user's file, and the rows skipped (with `on_error=skip`), each with its reason."""

    path: Path
    items: list[JudgeItem]
    skipped: list[str] = field(default_factory=list)


def media_part(spec: Any, root: Path, where: str) -> dict[str, Any]:
    """One media entry (a path, or {"path", "fps"} for a frame folder) as a prompt part {"type", "path"}."""
    fps = None
    if isinstance(spec, dict):
        fps, spec = spec.get("fps"), spec.get("path")
    if not isinstance(spec, str) or not spec:
        raise DataError(f"{where}: a media entry must be a path or {{'path': ..., 'fps': ...}}, got {spec!r}")
    path = (root / spec).resolve()
    if not path.exists():
        raise DataError(f"{where}: media file {path} does not exist (paths are relative to {root})")
    suffix = path.suffix.lower()
    if path.is_dir() or suffix in VIDEO:
        kind = "video"
        if path.is_dir() and not isinstance(fps, int | float):
            raise DataError(
                f"{where}: the frame folder {spec!r} needs its frame rate: {{'path': ..., 'fps': 2}}"
            )
    elif suffix in IMAGE:
        kind = "image"
    elif suffix in AUDIO:
        kind = "audio"
    else:
        raise DataError(
            f"{where}: media file {spec!r}: the suffix {suffix or '(none)'} is none of images {IMAGE}, "
            f"video (a frame folder, {VIDEO}) or audio {AUDIO}"
        )
    return {"type": kind, "path": str(path), **({"fps": float(fps)} if fps else {})}


def _text(row: dict[str, Any], name: str, where: str, required: bool = False) -> str | None:
    value = row.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        got = "missing" if name not in row else repr(value)[:60]
        raise DataError(f"{where}: field {name!r} must be a non-empty string (got {got})")
    return value


def _media_list(row: dict[str, Any], name: str, root: Path, where: str) -> tuple[dict[str, Any], ...]:
    value = row.get(name)
    if value is None:
        return ()
    entries = value if isinstance(value, list) else [value]
    return tuple(media_part(entry, root, f"{where} field {name!r}") for entry in entries)


def check_smiles(smiles: str, where: str) -> str:
    """The SMILES as given, once rdkit has parsed it (else a DataError naming the row)."""
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    if Chem.MolFromSmiles(smiles) is None:
        raise DataError(
            f"{where}: field 'smiles' {smiles!r} is not a valid SMILES string (rdkit cannot parse it)"
        )
    return smiles


def question_text(prompt: str, smiles: str | None, reference: str | None, rubric: str | None) -> str:
    """What the judge reads as the request: the molecule (if any), the prompt, a reference answer, a rubric."""
    text = molecule_question(smiles, prompt) if smiles else prompt.strip()
    if reference:
        text += f"\n\n[Reference answer]\n{reference.strip()}"
    if rubric:
        text += f"\n\n[Judge by]\n{rubric.strip()}"
    return text


def row_item(row: dict[str, Any], where: str, root: Path, fmt: str, lineno: int) -> JudgeItem:
    """One row as a JudgeItem for `fmt` (its response count checked)."""
    unknown = sorted(set(row) - set(FIELDS))
    if unknown:
        raise DataError(f"{where}: unknown field(s) {unknown}; a row takes {list(FIELDS)} (docs/judge.md)")
    for name, value in row.items():
        texts = value if isinstance(value, list) else [value]
        longest = max((len(t) for t in texts if isinstance(t, str)), default=0)
        if longest > MAX_FIELD_CHARS:
            raise DataError(
                f"{where}: field {name!r} holds a text of {longest:,} characters, more than the "
                f"{MAX_FIELD_CHARS:,} a row may hold (flexjudge.apply.inputs.MAX_FIELD_CHARS); shorten it"
            )
    prompt = _text(row, "prompt", where, required=True)
    if "response" in row and "responses" in row:
        raise DataError(f"{where}: give either 'response' or 'responses', not both")
    if "responses" in row:
        responses = row["responses"]
        if not isinstance(responses, list) or not all(isinstance(r, str) for r in responses):
            raise DataError(f"{where}: field 'responses' must be a list of strings")
    elif "response" in row:
        responses = [_text(row, "response", where, required=True)]
    else:
        raise DataError(f"{where}: field 'responses' (a list) or 'response' (one string) is missing")
    want = RESPONSES[fmt]
    if (want is not None and len(responses) != want) or (
        want is None and not 2 <= len(responses) <= MAX_BATCH
    ):
        need = f"exactly {want}" if want is not None else f"two to {MAX_BATCH} (labelled A to Z)"
        raise DataError(
            f"{where}: format {fmt} judges {need} responses per row, this row has {len(responses)}"
        )
    own = row.get("response_media")
    if own is not None and (not isinstance(own, list) or len(own) != len(responses)):
        raise DataError(f"{where}: field 'response_media' must be a list with one entry per response")
    answer_media = (
        tuple(_media_list({"m": m}, "m", root, f"{where} response_media[{i}]") for i, m in enumerate(own))
        if own is not None
        else ()
    )
    smiles = _text(row, "smiles", where)
    item_id = row.get("id", f"line{lineno}")
    if not isinstance(item_id, str | int) or isinstance(item_id, bool) or str(item_id) == "":
        raise DataError(f"{where}: field 'id' must be a non-empty string or integer")
    return JudgeItem(
        id=str(item_id),
        question=question_text(
            prompt,
            check_smiles(smiles, where) if smiles else None,
            _text(row, "reference", where),
            _text(row, "rubric", where),
        ),
        answers=tuple(responses),
        gold=row.get("gold"),
        media=(({"type": "molecule", "smiles": smiles},) if smiles else ())
        + _media_list(row, "media", root, where),
        answer_media=answer_media,
        source=where,
    )


def read_user_file(path: str | Path, fmt: str, on_error: str = "error") -> UserFile:
    """Every row of `path` as an item for format `fmt`. A bad row stops the read with file:line and the
    field (`on_error=error`), or is left out and named in `skipped` (`on_error=skip`)."""
    if fmt not in RESPONSES:
        raise ValueError(f"format {fmt!r}: choose one of {sorted(RESPONSES)}")
    if on_error not in ("error", "skip"):
        raise ValueError(f"on_error={on_error!r}: choose error or skip")
    path = Path(path)
    root = path.resolve().parent
    out = UserFile(path, [])
    seen: dict[str, str] = {}
    for lineno, row in iter_jsonl_lines(path):
        where = f"{path}:{lineno}"
        try:
            if isinstance(row, DataError):
                raise row
            item = row_item(row, where, root, fmt, lineno)
            if item.id in seen:
                raise DataError(f"{where}: id {item.id!r} was already used at {seen[item.id]}")
        except DataError as exc:
            if on_error == "error":
                raise
            out.skipped.append(str(exc))
            continue
        seen[item.id] = where
        out.items.append(item)
    if not out.items:
        raise DataError(
            f"{path}: no rows to judge" + (f" ({len(out.skipped)} skipped)" if out.skipped else "")
        )
    return out
