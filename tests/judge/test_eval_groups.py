"""evaluate with `evaluations=[...]`: one process judges a group, each evaluation as its own run would."""

import json
import shutil
import subprocess
import sys

import pytest

from conftest import stage_cfg

GROUP = "[hh_harmless_heldout/k1/none,hh_harmless_heldout/k3/none,hh_harmless_heldout/k3/wait1]"


SIMULATED = ("backend=simulated", "backend.error_rate=0.3")


def evaluate(tmp_path, *overrides: str, backend=SIMULATED) -> subprocess.CompletedProcess:
    """The evaluate stage as a real Hydra app (a group needs the command line it was given)."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "flexjudge.evaluate",
            f"paths.results={tmp_path}",
            "logger=none",
            "progress=false",
            *backend,
            f"hydra.run.dir={tmp_path / 'hydra'}",
            *overrides,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def results(tmp_path, curated):
    (tmp_path / "curate").mkdir()
    shutil.copy(curated / "heldout.jsonl", tmp_path / "curate" / "heldout.jsonl")
    return tmp_path


def test_a_group_writes_what_separate_runs_write(results, tmp_path_factory):
    group = evaluate(results, f"evaluations={GROUP}", "benchmark.order=both", f"out_dir={results / 'group'}")
    assert group.returncode == 0, group.stderr[-2000:]
    summary = json.loads((results / "group" / "group.json").read_text())
    assert [(e["voting"], e["budget"]) for e in summary["evaluations"]] == [
        ("k1", "none"),
        ("k3", "none"),
        ("k3", "wait1"),
    ]
    alone = tmp_path_factory.mktemp("alone")
    shutil.copytree(results / "curate", alone / "curate")
    single = evaluate(alone, "voting=k3", "budget=wait1", "benchmark.order=both")
    assert single.returncode == 0, single.stderr[-2000:]
    leaf = "eval/smollm2_vl/base/hh_harmless_heldout/k3/wait1"
    grouped, separate = (json.loads((root / leaf / "metrics.json").read_text()) for root in (results, alone))
    assert grouped["metrics"] == separate["metrics"] and grouped["metrics"]["n_votes"] == 6 * 2 * 3
    assert (results / leaf / "predictions.jsonl").read_text() == (
        alone / leaf / "predictions.jsonl"
    ).read_text()
    config = json.loads((results / leaf / "config.json").read_text())
    assert (
        config["benchmark"]["order"] == "both" and config["voting"]["k"] == 3
    )  # the group's overrides apply


def test_a_bad_group_entry_names_the_expected_form(results):
    result = evaluate(results, "evaluations=[hh_harmless_heldout/k1]", f"out_dir={results / 'group'}")
    assert result.returncode != 0
    assert "expected <benchmark>/<voting>/<budget>" in result.stderr


def test_another_judge_format_is_a_recorded_deviation(results):
    from flexjudge.evaluate import run

    record = run(stage_cfg("evaluate", results, "backend=simulated", "benchmark.judge_format=pair_verdict"))
    assert record["judge_format"] == "pair_verdict"
    assert record["protocol_deviations"] == [
        "judge_format pair_verdict instead of the protocol's pair_scores"
    ]
    assert run(stage_cfg("evaluate", results, "backend=simulated"))["protocol_deviations"] == []
    with pytest.raises(ValueError, match=r"registry .* says 'pair_scores' \(or one of \['pair_verdict'\]\)"):
        run(stage_cfg("evaluate", results, "backend=simulated", "benchmark.judge_format=score"))


def test_a_group_pools_its_votes_into_shared_batches_first(results, tmp_path_factory, tiny_manifest):
    """With a model backend a group first generates its evaluations' votes together (each prompt once, with
    the most votes asked of it) into the per-vote cache; every evaluation then finds all its votes there,
    and writes what it writes alone (here the pooled batches hold the same rows as a run alone)."""
    model = ("backend=hf", "backbone=tiny_vl", f"judge={tiny_manifest}", "max_new_tokens=24", "threads=1")
    hf = {"backend": ()}
    entries = "[hh_harmless_heldout/k1/none,hh_harmless_heldout/k3/none]"
    group = evaluate(results, *model, f"evaluations={entries}", f"out_dir={results / 'group'}", **hf)
    assert group.returncode == 0, group.stderr[-2000:]
    # the pool runs on the group's `threads`, not torch's default (it comes before each member's start-up)
    output = (group.stdout + group.stderr).splitlines()
    pool_line = next(line for line in output if "group pool 1/1: generated" in line)
    assert pool_line.endswith("; CPU threads: 1"), pool_line
    summary = json.loads((results / "group" / "group.json").read_text())
    assert summary["pooled_votes"] == {
        "pools": 1,
        "calls": [{"prompts": 6, "k": [3], "total": 18, "cached": 0, "generated": 18}],
    }
    assert [e["votes"] for e in summary["evaluations"]] == [
        {"total": 6, "cached": 6, "generated": 0},
        {"total": 18, "cached": 18, "generated": 0},
    ]
    alone = tmp_path_factory.mktemp("alone_hf")
    shutil.copytree(results / "curate", alone / "curate")
    single = evaluate(alone, *model, "voting=k3", "budget=none", **hf)
    assert single.returncode == 0, single.stderr[-2000:]
    leaf = "eval/tiny_vl/base/hh_harmless_heldout/k3/none"
    assert (results / leaf / "predictions.jsonl").read_text() == (
        alone / leaf / "predictions.jsonl"
    ).read_text()


class _RecordingSession:
    """A session that records what a group's prefetch asks of it (the pooling, not the model)."""

    def __init__(self):
        self.calls: list[dict] = []

    def votes(self, messages, params, **kw):
        from flexjudge.generate.runner import VoteCounts

        self.calls.append({"messages": messages, "params": params, **kw})
        n = sum(kw["votes"])
        return None, {}, VoteCounts(total=n, cached=0, generated=n)


def test_a_group_of_two_temperatures_is_one_pooled_call(results, tiny_manifest):
    """Evaluations differing in temperature, top-p or vote count share one call, each request with its own
    settings; greedy requests whatever their top-p are one request."""
    from flexjudge.judge.runs import load_items, prefetch_votes

    judge = ("backend=hf", f"judge={tiny_manifest}")
    configs = [
        stage_cfg("evaluate", results, *judge, *overrides)
        for overrides in (
            ("benchmark.temperature=0.0", "benchmark.top_p=1.0", "voting=k1"),
            ("benchmark.temperature=0.0", "benchmark.top_p=0.9", "voting=k3"),  # the same greedy votes
            ("benchmark.temperature=0.7", "benchmark.top_p=0.9", "voting=k3"),
        )
    ]
    session = _RecordingSession()
    summary = prefetch_votes(configs, [load_items(c) for c in configs], session)
    (call,) = session.calls
    n = len(load_items(configs[0]).items)
    assert summary == {
        "pools": 1,
        "calls": [{"prompts": 2 * n, "k": [3], "total": 6 * n, "cached": 0, "generated": 6 * n}],
    }
    assert sorted(set(call["sampling"])) == [(0.0, 1.0), (0.7, 0.9)]
    assert call["votes"] == [3] * (2 * n)  # the greedy prompt once, with the most votes asked of it
    for bad in ("max_new_tokens=16", "budget=think64"):  # another token or thinking budget: another pool
        other = [*configs, stage_cfg("evaluate", results, *judge, bad)]
        assert prefetch_votes(other, [load_items(c) for c in other], _RecordingSession())["pools"] == 2
