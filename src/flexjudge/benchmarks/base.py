"""Reading a benchmark from its official files: rows → `JudgeItem`s, with media resolved under a root.

An adapter (one per benchmark family, in `vision.py`, `audio.py`, `text.py`) has two parts: `rows`
yields (where, row) from the official files, `item` turns one row into a JudgeItem. `load_benchmark`
drives them, so every adapter gets the same error reporting (file:line and field names), the same
missing-media policy (error, or a counted skip with `on_missing=skip`) and the same `limit`. Mini
versions built here are read by the very same adapters.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flexjudge.core.io import DataError, iter_jsonl
from flexjudge.data.media import MissingMedia, resolve_media
from flexjudge.data.schemas import JudgeItem

MEDIA_KINDS = ("image", "video", "audio")


@dataclass
class Source:
    """Where a benchmark's files are. `path`: its main file or folder, in the official layout;
    `media_root`: the folder its media paths are relative to (no path may leave it); `cache`: where
    media embedded in the data (parquet image bytes) are written out once, named by content hash."""

    path: Path
    media_root: Path
    cache: Path
    on_missing: str = "error"  # error | skip

    def media(self, kind: str, relative: Any, where: str) -> dict[str, Any]:
        """A media part {"type", "path"} for a path relative to media_root; checked to exist and stay inside."""
        if kind not in MEDIA_KINDS:
            raise ValueError(f"media kind {kind!r} not in {MEDIA_KINDS}")
        if not isinstance(relative, str) or not relative:
            raise DataError(f"{where}: the {kind} path must be a non-empty string (got {relative!r})")
        hint = (
            "; fetch the benchmark's media, or set on_missing=skip to leave such rows out (they are counted)"
        )
        return {"type": kind, "path": str(resolve_media(self.media_root, relative, where, kind, hint))}

    def embedded(self, kind: str, blob: Any, where: str) -> dict[str, Any]:
        """A media part for media stored inside the data ({"bytes", "path"} or raw bytes); written to cache."""
        data = blob.get("bytes") if isinstance(blob, dict) else blob
        if not isinstance(data, bytes | bytearray) or not data:
            if isinstance(blob, dict) and isinstance(blob.get("path"), str) and blob["path"]:
                return self.media(kind, blob["path"], where)
            raise MissingMedia(f"{where}: the row's {kind} has neither bytes nor a path")
        suffix = Path(blob.get("path") or "").suffix if isinstance(blob, dict) else ""
        digest = hashlib.sha256(data).hexdigest()[:24]
        out = self.cache / f"{digest}{suffix or '.bin'}"
        if not out.exists():
            self.cache.mkdir(parents=True, exist_ok=True)
            tmp = out.with_suffix(out.suffix + ".tmp")
            tmp.write_bytes(bytes(data))
            tmp.replace(out)
        return {"type": kind, "path": str(out)}


@dataclass
class Loaded:
    """A benchmark's items, plus rows left out under on_missing=skip (counted, first few named)."""

    items: list[JudgeItem]
    skipped: int = 0
    skipped_examples: list[str] = field(default_factory=list)
    # items left out because the judge takes none of their media's kind, by subset (`without_media`)
    unsupported: dict[str, int] = field(default_factory=dict)

    def report(self) -> dict[str, Any]:
        return {
            "items": len(self.items),
            "skipped_missing_media": self.skipped,
            "skipped_examples": self.skipped_examples,
            "skipped_unsupported_media": dict(self.unsupported),
        }

    def without_media(self, takes: set[str], name: str) -> Loaded:
        """The items whose media are all of a kind in `takes`; the others are counted by subset (`name`
        where an item has none), never dropped silently."""
        kept, left = [], Counter()
        for item in self.items:
            if item.media_kinds() - takes:
                left[item.subset or name] += 1
            else:
                kept.append(item)
        return Loaded(kept, self.skipped, self.skipped_examples, dict(sorted(left.items())))


@dataclass(frozen=True)
class Adapter:
    """How to read one benchmark family: `rows(source, options)` and `item(row, where, source, options)`."""

    rows: Callable[[Source, dict[str, Any]], Iterator[tuple[str, dict[str, Any]]]]
    item: Callable[[dict[str, Any], str, Source, dict[str, Any]], JudgeItem | None]
    schema: str  # one line: the official format it reads


def load_benchmark(
    adapter: Adapter, source: Source, options: dict[str, Any] | None = None, limit: int | None = None
) -> Loaded:
    """Every item of a benchmark (the first `limit`), with the missing-media policy applied per row."""
    if source.on_missing not in ("error", "skip"):
        raise ValueError(f"on_missing={source.on_missing!r}: choose error or skip")
    if not source.path.exists():
        raise DataError(f"benchmark data {source.path} does not exist ({adapter.schema})")
    loaded = Loaded([])
    seen: set[str] = set()
    for where, row in adapter.rows(source, options or {}):
        if limit is not None and len(loaded.items) >= limit:
            break
        try:
            item = adapter.item(row, where, source, options or {})
        except MissingMedia:
            if source.on_missing == "error":
                raise
            loaded.skipped += 1
            if len(loaded.skipped_examples) < 5:
                loaded.skipped_examples.append(where)
            continue
        if item is None:  # a row the protocol leaves out (e.g. another subset)
            continue
        if item.id in seen:
            raise DataError(f"{where}: item id {item.id!r} appears twice in {source.path}")
        seen.add(item.id)
        loaded.items.append(item)
    return loaded


# -- reading official files ---------------------------------------------------------------------


def jsonl_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(file:line, row) of a JSONL file."""
    for lineno, row in iter_jsonl(path):
        yield f"{path}:{lineno}", row


def json_list_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(file[index], row) of a file holding one JSON list (bare NaN is accepted, as PandaLM's has it)."""
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from exc
    if not isinstance(rows, list):
        raise DataError(f"{path}: expected a JSON list of rows, got {type(rows).__name__}")
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise DataError(f"{path}[{i}]: expected a JSON object, got {type(row).__name__}")
        yield f"{path}[{i}]", row


def csv_rows(
    path: Path, fieldnames: list[str] | None = None, delimiter: str = ","
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(file:line, row) of a CSV file; `fieldnames` for a file without a header line."""
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh, fieldnames=fieldnames, delimiter=delimiter)
        for row in reader:
            where = f"{path}:{reader.line_num}"
            if None in row or any(v is None for v in row.values()):
                raise DataError(f"{where}: expected the columns {reader.fieldnames}, got {len(row)} fields")
            yield where, row


def parquet_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(file[row], row) of every parquet file at `path` (a file, or a folder searched recursively)."""
    import pandas as pd

    files = [path] if path.is_file() else sorted(path.rglob("*.parquet"))
    if not files:
        raise DataError(f"{path}: no parquet files")
    yield from number_rows(
        (f"{file}[{i}]", row)
        for file in files
        for i, row in enumerate(pd.read_parquet(file).to_dict(orient="records"))
    )


def number_rows(rows: Iterator[tuple[str, dict[str, Any]]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Adds `_index`, the row's position over all files read, for releases whose rows carry no id
    (a per-file index would repeat across shards)."""
    for n, (where, row) in enumerate(rows):
        yield where, {**row, "_index": n}


def need(row: dict[str, Any], name: str, kind: type | tuple[type, ...], where: str) -> Any:
    """row[name] (a dotted name reaches into nested objects), checked for type; errors name file:line and field."""
    value: Any = row
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            raise DataError(f"{where}: field {name!r} is missing (columns: {sorted(row)})")
        value = value[part]
    if not isinstance(value, kind) or (isinstance(value, float) and math.isnan(value)):
        raise DataError(f"{where}: field {name!r} must be {_kind_name(kind)}, got {value!r:.60}")
    return value


def sequence(row: dict[str, Any], name: str, where: str) -> list[Any]:
    """A list field (parquet gives numpy arrays; JSON gives lists)."""
    if hasattr(row.get(name), "tolist"):
        row = {**row, name: row[name].tolist()}
    return need(row, name, (list, tuple), where)


def number(row: dict[str, Any], name: str, where: str) -> float:
    """A numeric field that may be stored as text (e.g. MLLM-as-a-Judge's `human` scores, CSV cells)."""
    value = need(row, name, (int, float, str), where)
    try:
        out = float(value)
    except ValueError:
        raise DataError(f"{where}: field {name!r} must be a number, got {value!r}") from None
    if math.isnan(out):
        raise DataError(f"{where}: field {name!r} is NaN")
    return out


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)


def majority(labels: list[Any]) -> Any:
    """The most common label; on equal counts the one seen first."""
    counts = Counter(labels)
    best = max(counts.values())
    return next(label for label in labels if counts[label] == best)
