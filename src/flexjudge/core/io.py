"""File helpers shared by every stage: JSONL with file:line errors, atomic writes, content hashes."""

from __future__ import annotations

import errno
import gzip
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

_UMASK = os.umask(0)
os.umask(_UMASK)


class DataError(ValueError):
    """Bad input data; the message names the file and line and says how to fix it."""


def _open_text(path: Path, mode: str = "rt"):
    """A text (UTF-8) or, with mode "rb", binary handle on a plain or gzipped file."""
    encoding = None if "b" in mode else "utf-8"
    return (
        gzip.open(path, mode, encoding=encoding)
        if path.suffix == ".gz"
        else open(path, mode, encoding=encoding)
    )


def iter_jsonl_lines(path: str | Path) -> Iterator[tuple[int, dict[str, Any] | DataError]]:
    """Yield (line number, object) for each non-blank line, or (line number, DataError naming file:line)
    for a line that is not a JSON object, so a reader that skips bad rows can count them and go on."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    with _open_text(path, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield (
                    lineno,
                    DataError(
                        f"{path}:{lineno}: not UTF-8 (byte 0x{raw[exc.start]:02x} at byte {exc.start + 1} of the "
                        "line); save the file as UTF-8"
                    ),
                )
                continue
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                yield (
                    lineno,
                    DataError(
                        f"{path}:{lineno}: not valid JSON ({exc.msg} at column {exc.colno}); "
                        "each line must hold one JSON object"
                    ),
                )
                continue
            if not isinstance(obj, dict):
                yield lineno, DataError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
                continue
            yield lineno, obj


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line; raise DataError naming file:line on bad JSON."""
    for lineno, obj in iter_jsonl_lines(path):
        if isinstance(obj, DataError):
            raise obj
        yield lineno, obj


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """All objects of a JSONL file (plain or .gz)."""
    return [obj for _, obj in iter_jsonl(path)]


class DiskFull(OSError):
    """The disk filled while writing a result; nothing partial was left under the result's name."""


def is_disk_full(exc: BaseException) -> bool:
    """Whether an error (OSError, SQLite's, safetensors') says the disk is full."""
    text = str(exc)
    return (
        getattr(exc, "errno", None) == errno.ENOSPC
        or "No space left on device" in text
        or "database or disk is full" in text
    )


def disk_full(path: str | Path, exc: BaseException) -> DiskFull:
    """The error to raise for a full disk while writing `path`."""
    return DiskFull(
        errno.ENOSPC,
        f"{path}: the disk filled while writing it ({exc}); nothing partial was kept under that name. "
        f"Free space on {Path(path).parent} (df -h) and rerun: finished work is kept",
    )


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if is_disk_full(exc):
            raise disk_full(path, exc) from exc
        raise


def write_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> int:
    """Write rows atomically (temp file + rename); return the number written."""
    count = 0

    def write(fh):
        nonlocal count
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1

    _atomic_write(Path(path), write)
    return count


def write_json(path: str | Path, obj: Any) -> None:
    """Write pretty JSON atomically."""
    _atomic_write(
        Path(path), lambda fh: fh.write(json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")
    )


def read_json(path: str | Path) -> Any:
    """Read a JSON file, naming the file on a parse error."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def stable_hash(*parts: Any) -> str:
    """Short deterministic hash of JSON-serialisable parts (ids, seeds, configs)."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
