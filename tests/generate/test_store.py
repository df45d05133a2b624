"""The per-vote cache under damage: a truncated, overwritten or foreign file is refused at open with the file
named and the fix, never read as votes; a row that is not a vote is refused when read."""

from __future__ import annotations

import sqlite3

import pytest

from flexjudge.generate.engine import Generation
from flexjudge.generate.store import CorruptCache, GenerationStore


def filled(path, n=400):
    """A cache of n votes, checkpointed into the main file (no -wal left), its size in bytes."""
    with GenerationStore(path) as store:
        store.put_many(
            {
                f"k{i}": Generation(text=f"<answer>{i % 5}</answer> " * 20, n_tokens=9, finished=True)
                for i in range(n)
            }
        )
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path.stat().st_size


def test_a_sound_cache_reopens_with_every_vote(tmp_path):
    filled(tmp_path / "votes.sqlite")
    with GenerationStore(tmp_path / "votes.sqlite") as store:
        assert len(store) == 400 and store.get_many(["k7"])["k7"].n_tokens == 9


@pytest.mark.parametrize("damage", ["truncated", "overwritten", "not_sqlite"])
def test_a_damaged_cache_is_refused_at_open_naming_the_file(tmp_path, damage):
    path = tmp_path / "votes.sqlite"
    size = filled(path)
    if damage == "truncated":  # e.g. a copy cut short
        with open(path, "r+b") as f:
            f.truncate(size // 2)
    elif damage == "overwritten":  # garbage over a stretch of pages in the middle
        with open(path, "r+b") as f:
            f.seek(size // 3)
            f.write(b"\xff\x00" * 4096)
    else:
        path.write_bytes(b"this is a text file, not a vote cache\n" * 100)
    with pytest.raises(CorruptCache, match=r"votes\.sqlite: the vote cache is damaged .*delete it"):
        GenerationStore(path)


def test_a_row_that_is_not_a_vote_is_refused_when_read(tmp_path):
    path = tmp_path / "votes.sqlite"
    filled(path, n=3)
    db = sqlite3.connect(path)
    db.execute("UPDATE votes SET generation = '{\"txt\": 1}' WHERE key = 'k1'")
    db.commit()
    db.close()
    with GenerationStore(path) as store:
        assert store.get_many(["k0"])["k0"].n_tokens == 9
        with pytest.raises(CorruptCache, match="k1.*is not a stored generation"):
            store.get_many(["k1", "k2"])
