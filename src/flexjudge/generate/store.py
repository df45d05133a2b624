"""A per-vote generation cache in one SQLite file, so a rerun or a killed run generates only what is missing.

Each vote is stored under a content key (see `vote_key`): the model's weight digest, the prompt and
media, the sampling settings and seed, the thinking budget, the vote index and the engine version.
A batch of votes is written in one transaction, so a process killed at any point leaves whole batches
or nothing (no torn rows). SQLite's locking makes the file safe for several processes on one machine
(shards of one evaluation, or several evaluations of the same judge); on a network file system keep
one file per job (`evaluate.cache=...`), as SQLite's locks are not reliable there.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from flexjudge.core.io import DataError, disk_full, is_disk_full, sha256_file, stable_hash
from flexjudge.generate.engine import ENGINE_VERSION, Generation

SCHEMA = """
CREATE TABLE IF NOT EXISTS votes (key TEXT PRIMARY KEY, generation TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS digests (path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, digest TEXT);
"""


def vote_key(
    *,
    backend: str,
    model: str,
    prompt: str,
    media: Any,
    sampling: Mapping[str, Any],
    budget: Mapping[str, Any],
    vote: int,
) -> str:
    """The content key of one vote."""
    return stable_hash(
        "vote", ENGINE_VERSION, backend, model, prompt, media, dict(sampling), dict(budget), vote
    )


class CorruptCache(DataError):
    """A vote cache that fails SQLite's integrity check (truncated, overwritten, not a database)."""


class GenerationStore:
    """Votes by content key in SQLite (WAL journal; one transaction per batch)."""

    def __init__(self, path: str | Path, timeout_s: float = 120.0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=timeout_s, isolation_level=None)
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")  # a killed process loses nothing committed
            self.db.executescript(SCHEMA)
            problems = [row[0] for row in self.db.execute("PRAGMA quick_check")]
        except sqlite3.DatabaseError as exc:  # not a database, or a header beyond repair
            problems = [str(exc)]
        if problems != ["ok"]:
            self.db.close()
            raise CorruptCache(
                f"{self.path}: the vote cache is damaged ({'; '.join(problems[:3])}). Its votes cannot be "
                f"trusted: delete it (with its -wal and -shm files) to regenerate them, or restore it from a copy"
            )

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> GenerationStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __len__(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM votes").fetchone()[0]

    def get_many(self, keys: Iterable[str]) -> dict[str, Generation]:
        """The stored generations among `keys`."""
        keys = list(keys)
        found: dict[str, Generation] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            rows = self.db.execute(
                f"SELECT key, generation FROM votes WHERE key IN ({','.join('?' * len(chunk))})", chunk
            )
            for k, g in rows:
                try:
                    found[k] = Generation(**json.loads(g))
                except (ValueError, TypeError) as exc:  # a row that SQLite kept but that is not a vote
                    raise CorruptCache(
                        f"{self.path}: vote {k[:12]}… is not a stored generation ({exc}); delete the cache "
                        "(with its -wal and -shm files) to regenerate its votes"
                    ) from exc
        return found

    def put_many(self, generations: Mapping[str, Generation]) -> None:
        """Store a batch of votes atomically (existing keys are kept: a key always means the same vote)."""
        now = time.time()
        rows = [(k, json.dumps(asdict(g), ensure_ascii=False), now) for k, g in generations.items()]
        try:
            with self._transaction():
                self.db.executemany("INSERT OR IGNORE INTO votes VALUES (?, ?, ?)", rows)
        except sqlite3.OperationalError as exc:  # the batch is rolled back: the cache keeps what it had
            if is_disk_full(exc):
                raise disk_full(self.path, exc) from exc
            raise

    def weights_digest(self, folder: str | Path) -> str:
        """sha256 over a checkpoint folder's weight and config files, remembered by (path, size, mtime)."""
        folder = Path(folder)
        files = sorted(
            p for p in folder.rglob("*") if p.is_file() and p.suffix in (".safetensors", ".json", ".gguf")
        )
        if not files:
            raise FileNotFoundError(f"{folder}: no weight files (*.safetensors) to fingerprint")
        parts = []
        for f in files:
            st = f.stat()
            row = self.db.execute(
                "SELECT digest FROM digests WHERE path=? AND size=? AND mtime_ns=?",
                (str(f.resolve()), st.st_size, st.st_mtime_ns),
            ).fetchone()
            digest = row[0] if row else sha256_file(f)
            if not row:
                with self._transaction():
                    self.db.execute(
                        "INSERT OR REPLACE INTO digests VALUES (?, ?, ?, ?)",
                        (str(f.resolve()), st.st_size, st.st_mtime_ns, digest),
                    )
            parts.append((str(f.relative_to(folder)), digest))
        return stable_hash("weights", parts)

    def _transaction(self):
        return _Transaction(self.db)


class _Transaction:
    """BEGIN IMMEDIATE … COMMIT, rolled back on error (one writer at a time across processes)."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, *_) -> None:
        if not exc_type:
            self.db.execute("COMMIT")
        elif self.db.in_transaction:  # SQLite rolls back by itself on some errors (a full disk)
            self.db.execute("ROLLBACK")
