"""A full disk while writing predictions, a checkpoint or the vote cache (a small tmpfs, mounted as root): a
clear error naming the file, nothing partial left under a result's name, what was finished kept, and the same
write completing once there is room again."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from flexjudge.core.io import DiskFull, read_jsonl, write_jsonl


@pytest.fixture
def small_disk(tmp_path):
    """A 256 KiB tmpfs; `grow()` gives it 64 MiB (space returns). Needs root to mount."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs to fill needs root (CI runs as root)")
    mnt = tmp_path / "disk"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")

    def grow():
        subprocess.run(["mount", "-o", "remount,size=64m", str(mnt)], check=True)

    yield mnt, grow
    subprocess.run(["umount", str(mnt)], check=False)


def names(folder):
    return sorted(p.name for p in folder.rglob("*"))


def fill(mnt, leave=16 * 1024):
    """Ballast so that only about `leave` bytes stay free (what a larger disk near its end looks like)."""
    st = os.statvfs(mnt)
    (mnt / "ballast").write_bytes(b"\0" * max(0, st.f_bavail * st.f_frsize - leave))


def test_predictions_on_a_full_disk(small_disk):
    mnt, grow = small_disk
    rows = [{"id": i, "text": "x" * 1000} for i in range(1000)]  # ~1 MB
    write_jsonl(mnt / "kept.jsonl", rows[:10])
    with pytest.raises(DiskFull, match=r"predictions\.jsonl: the disk filled while writing it.*rerun"):
        write_jsonl(mnt / "predictions.jsonl", rows)
    assert names(mnt) == ["kept.jsonl"]  # no partial or temporary file; the finished one intact
    assert len(read_jsonl(mnt / "kept.jsonl")) == 10
    grow()
    assert write_jsonl(mnt / "predictions.jsonl", rows) == 1000


def test_a_checkpoint_on_a_full_disk(small_disk):
    from flexjudge.backbones.checkpoints import save_checkpoint
    from flexjudge.backbones.tiny import tiny_llama

    mnt, grow = small_disk
    model, tok = tiny_llama(seed=0)
    fill(mnt)
    with pytest.raises(DiskFull, match=r"checkpoint: the disk filled while writing it"):
        save_checkpoint(model, tok, mnt / "checkpoint")
    assert names(mnt) == ["ballast"]  # no partial checkpoint, no temporary folder
    grow()
    out = save_checkpoint(model, tok, mnt / "checkpoint")
    assert (out / "model.safetensors").stat().st_size > 16 * 1024 and not list(mnt.glob(".*"))


def test_the_vote_cache_on_a_full_disk(small_disk):
    from flexjudge.generate.engine import Generation
    from flexjudge.generate.store import GenerationStore

    mnt, grow = small_disk

    def votes(start, n):
        return {
            f"k{i}": Generation(text="v" * 2000, n_tokens=5, finished=True) for i in range(start, start + n)
        }

    with GenerationStore(mnt / "votes.sqlite") as store:
        store.put_many(votes(0, 10))
        with pytest.raises(DiskFull, match=r"votes\.sqlite: the disk filled"):
            store.put_many(votes(10, 2000))  # ~4 MB in one batch
    grow()
    with GenerationStore(mnt / "votes.sqlite") as store:  # passes its integrity check
        assert len(store) == 10  # the failed batch left nothing; the earlier one is whole
        store.put_many(votes(10, 2000))
        assert len(store) == 2010
