"""The runner's bookkeeping over the cache, with an engine that needs no model."""

from __future__ import annotations

import time

from flexjudge.generate.engine import BatchedEngine, Generation, Request, SamplingParams
from flexjudge.generate.runner import generate_votes
from flexjudge.generate.store import GenerationStore


class _EchoEngine(BatchedEngine):
    """No model: each vote's text names its prompt and vote (the runner's bookkeeping is what is tested)."""

    batch_size = 2

    def encode(self, text):
        return list(range(len(text)))

    def _run_batch(self, requests, encoded, params):
        return [[Generation(f"{r.prompt}#{v}", 1, True) for v in r.votes] for r in requests]


def test_two_requests_with_one_prompt_get_their_votes_and_do_not_wait(tmp_path):
    # a policy whose sampled answers repeat asks the same continuation twice: one key, two requests
    prompts = ["same", "other", "same"]
    requests = [Request(p, f"k-{p}", (0,)) for p in prompts]
    keys = [[f"vote-{p}"] for p in prompts]
    store = GenerationStore(tmp_path / "votes.sqlite")
    start = time.monotonic()
    gens, counts = generate_votes(
        _EchoEngine(),
        requests,
        [len(p) for p in prompts],
        SamplingParams(max_new_tokens=4),
        keys,
        store=store,
        wait_s=5.0,
        progress=False,
    )
    store.close()
    assert time.monotonic() - start < 5.0  # it used to wait for a third distinct key until wait_s ran out
    assert [g[0].text for g in gens] == ["same#0", "other#0", "same#0"]
    assert counts.total == 3


def test_the_runner_logs_the_stage_throughput_of_what_it_generated(tmp_path):
    store = GenerationStore(tmp_path / "votes.sqlite")
    requests = [Request(p, f"k-{p}", (0, 1)) for p in ("a", "b", "c")]
    keys = [[f"{r.key}/{v}" for v in r.votes] for r in requests]
    args = (requests, [1, 1, 1], SamplingParams(max_new_tokens=4), keys)
    lines: list[str] = []
    generate_votes(_EchoEngine(), *args, store=store, progress=False, log_fn=lines.append, desc="sample")
    assert lines[0] == "sample: 6 votes for 3 prompts; 0 in the cache; generating 6 in 2 batches"
    assert lines[1].startswith("sample: generated 6 tokens for 6 votes in ") and lines[1].endswith(" tok/s")
    assert "prompt tokens" not in lines[1]  # an engine that does not count its prompt tokens claims none
    lines.clear()  # a rerun from the cache generates nothing, so it claims no throughput
    generate_votes(_EchoEngine(), *args, store=store, progress=False, log_fn=lines.append, desc="sample")
    store.close()
    assert lines == ["sample: 6 votes for 3 prompts; 6 in the cache; generating 0 in 0 batches"]
