"""An evaluation killed with SIGKILL resumes from the per-vote cache and ends exactly where an
uninterrupted run does; two processes (torchrun) give the same predictions byte for byte as one."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import stage_cfg
from flexjudge import REPO_ROOT

pytestmark = pytest.mark.slow

K, ITEMS = 3, 16
GENERATED = re.compile(r"generated (\d+) of (\d+) votes \((\d+) from the cache\)")


@pytest.fixture(scope="module")
def heldout(tmp_path_factory) -> Path:
    from flexjudge.curate import run

    tmp = tmp_path_factory.mktemp("curated16")
    run(stage_cfg("curate", tmp, f"heldout_size={ITEMS}", "pool_size=4"))
    return tmp / "curate" / "heldout.jsonl"


def _args(results: Path, manifest: Path, heldout: Path) -> list[str]:
    out = results / "eval"
    return [
        f"paths.results={results}",
        "backbone=tiny_vl",
        f"judge={manifest}",
        f"benchmark.path={heldout}",
        f"voting=k{K}",
        "max_new_tokens=40",
        "backend.batch_size=1",
        "logger=none",
        "progress=false",
        "threads=1",
        "bootstrap=50",
        f"out_dir={out}",
        f"hydra.run.dir={out}",
    ]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}


def _evaluate(results: Path, manifest: Path, heldout: Path, *launcher: str) -> str:
    cmd = [*(launcher or (sys.executable,)), "-m", "flexjudge.evaluate", *_args(results, manifest, heldout)]
    done = subprocess.run(cmd, cwd=REPO_ROOT, env=_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout + done.stderr


def _votes_in(cache: Path) -> int:
    if not cache.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{cache}?mode=ro", uri=True, timeout=1) as db:
            return db.execute("SELECT COUNT(*) FROM votes").fetchone()[0]
    except sqlite3.OperationalError:  # the schema is not there yet
        return 0


@pytest.fixture(scope="module")
def reference(tmp_path_factory, tiny_manifest, heldout) -> Path:
    """An uninterrupted single-process run."""
    results = tmp_path_factory.mktemp("reference")
    log = _evaluate(results, tiny_manifest, heldout)
    assert GENERATED.search(log).groups() == (str(ITEMS * K), str(ITEMS * K), "0")
    return results / "eval"


def test_killed_evaluation_resumes_with_identical_metrics(tmp_path, tiny_manifest, heldout, reference):
    cache = tmp_path / "cache" / "tiny_vl-base.sqlite"
    cmd = [sys.executable, "-m", "flexjudge.evaluate", *_args(tmp_path, tiny_manifest, heldout)]
    proc = subprocess.Popen(
        cmd, cwd=REPO_ROOT, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 300
    while _votes_in(cache) < 2 * K and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    kept = _votes_in(cache)
    assert proc.returncode == -signal.SIGKILL and K <= kept < ITEMS * K, kept
    assert kept % K == 0  # whole batches (1 prompt x k votes) or nothing
    assert not (tmp_path / "eval" / "metrics.json").exists()

    log = _evaluate(tmp_path, tiny_manifest, heldout)
    generated, total, cached = map(int, GENERATED.search(log).groups())
    assert (total, cached, generated) == (ITEMS * K, kept, ITEMS * K - kept)
    resumed = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    uninterrupted = json.loads((reference / "metrics.json").read_text())
    assert resumed["metrics"] == uninterrupted["metrics"]
    assert (tmp_path / "eval" / "predictions.jsonl").read_bytes() == (
        reference / "predictions.jsonl"
    ).read_bytes()

    again = _evaluate(tmp_path, tiny_manifest, heldout)  # everything cached now
    assert GENERATED.search(again).groups() == ("0", str(ITEMS * K), str(ITEMS * K))


def test_two_process_sharded_run_matches_one_process(tmp_path, tiny_manifest, heldout, reference):
    torchrun = Path(sys.executable).with_name("torchrun")
    log = _evaluate(tmp_path, tiny_manifest, heldout, str(torchrun), "--standalone", "--nproc_per_node=2")
    shards = [m.groups() for m in GENERATED.finditer(log)]
    assert len(shards) == 2 and sum(int(g) for g, _, _ in shards) == ITEMS * K, log[-2000:]
    assert all(0 < int(g) < ITEMS * K for g, _, _ in shards)  # each process did part of the work
    assert (tmp_path / "eval" / "predictions.jsonl").read_bytes() == (
        reference / "predictions.jsonl"
    ).read_bytes()


def test_four_processes_writing_one_cache_lose_and_duplicate_nothing(
    tmp_path, tiny_manifest, heldout, reference
):
    """Four evaluations of the same judge at once, each in its own folder, all into one vote cache: no
    `database is locked`, every vote stored once, and each one's predictions byte-identical to one process."""
    shared = tmp_path / "shared.sqlite"
    procs = []
    for i in range(4):
        cmd = [sys.executable, "-m", "flexjudge.evaluate", *_args(tmp_path / f"p{i}", tiny_manifest, heldout)]
        procs.append(
            subprocess.Popen(
                [*cmd, f"cache={shared}"],
                cwd=REPO_ROOT,
                env=_env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    logs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], "\n".join(log[-1500:] for log in logs)
    assert not any("database is locked" in log for log in logs)
    assert _votes_in(shared) == ITEMS * K  # each vote once: the key is the table's primary key
    with sqlite3.connect(shared) as db:
        assert db.execute("SELECT COUNT(DISTINCT key) FROM votes").fetchone()[0] == ITEMS * K
    for i in range(4):
        assert (tmp_path / f"p{i}" / "eval" / "predictions.jsonl").read_bytes() == (
            reference / "predictions.jsonl"
        ).read_bytes()


def test_a_votes_seed_follows_media_content_not_where_the_checkout_lies(tmp_path):
    """The same image (or folder of frames) in two checkouts seeds the same votes; other bytes do not."""
    from flexjudge.generate.session import media_content

    for name in ("a", "b"):
        (tmp_path / name / "frames").mkdir(parents=True)
        (tmp_path / name / "img.png").write_bytes(b"\x89PNG same bytes")
        (tmp_path / name / "frames" / "0001.jpg").write_bytes(b"frame one")
    parts = lambda root: [  # noqa: E731
        {"type": "image", "path": str(root / "img.png")},
        {"type": "video", "path": str(root / "frames")},
    ]
    assert media_content(parts(tmp_path / "a")) == media_content(parts(tmp_path / "b"))
    assert str(tmp_path) not in str(media_content(parts(tmp_path / "a")))
    (tmp_path / "b" / "frames" / "0001.jpg").write_bytes(b"frame two")
    assert media_content(parts(tmp_path / "a")) != media_content(parts(tmp_path / "b"))


def test_a_votes_cache_key_follows_the_media_settings(tmp_path):
    """The same image at another resolution is another request for the cache (a benchmark override of
    image_max_pixels must judge again); a text-only request's key ignores media settings."""
    from flexjudge.backbones.inputs import MediaSettings
    from flexjudge.generate.session import media_key

    (tmp_path / "img.png").write_bytes(b"\x89PNG bytes")
    parts = [{"type": "image", "path": str(tmp_path / "img.png")}]
    small, large = MediaSettings(image_max_pixels=112 * 112), MediaSettings(image_max_pixels=448 * 448)
    assert media_key(parts, small) != media_key(parts, large)
    assert media_key(parts, None) == media_key(parts, MediaSettings())
    assert media_key((), small) == media_key((), large) == []
