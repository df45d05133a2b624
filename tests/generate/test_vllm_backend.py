"""The optional vLLM engine: never imported unless asked for; its batching, per-vote seeds and round-based
budget forcing, checked against a fake vLLM `LLM` (real tokenizer); a real-vLLM smoke test on CUDA boxes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from types import SimpleNamespace

import pytest

from flexjudge.generate.budget import Budget
from flexjudge.generate.engine import Request, SamplingParams, vote_seed
from flexjudge.generate.vllm_backend import MISSING_VLLM, VLLMEngine
from flexjudge.protocol.prompts import ANSWER_OPEN, THINK_CLOSE, THINK_PREFILL

BLOCK_VLLM = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "vllm" or name.startswith("vllm."):
            raise ImportError("vllm imported")
sys.meta_path.insert(0, Block())
import flexjudge.evaluate, flexjudge.generate.hf, flexjudge.generate.vllm_backend
assert "vllm" not in sys.modules
"""


def test_importing_the_backends_does_not_import_vllm():
    subprocess.run([sys.executable, "-c", BLOCK_VLLM], check=True)


def test_missing_vllm_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # makes `import vllm` fail
    with pytest.raises(ImportError, match=r"pip install -e '\.\[vllm\]'") as err:
        VLLMEngine("unused")
    assert str(err.value) == MISSING_VLLM


def thinker(context: str, seed: int | None) -> str:
    """Thinks briefly (naming its seed), closes, answers A."""
    if context.endswith(ANSWER_OPEN):
        return "A</answer> trailing"
    if context.endswith(THINK_CLOSE):
        return f"\n{ANSWER_OPEN}A</answer> trailing"
    return f" thought {(seed or 0) % 1000} {THINK_CLOSE}\n{ANSWER_OPEN}A</answer> trailing"


def stopper(context: str, seed: int | None) -> str:
    """Stops (EOS) while thinking, without closing."""
    return "A</answer>" if context.endswith(ANSWER_OPEN) else " hmm"


def rambler(context: str, seed: int | None) -> str:
    """Thinks forever unless the answer has been opened for it."""
    return "A</answer>" if context.endswith(ANSWER_OPEN) else " word" * 200


class FakeLLM:
    """vLLM's `LLM.generate` in miniature: a scripted continuation then EOS, decoded token by token, cut at
    the first stop string (kept, as with include_stop_str_in_output) or at max_tokens."""

    def __init__(self, tokenizer, script: Callable[[str, int | None], str]):
        self.tok, self.script = tokenizer, script
        self.calls: list[tuple[str, SimpleNamespace]] = []  # (context, sampling params)
        self.generate_calls = 0

    def generate(self, prompts, params, use_tqdm=True):
        self.generate_calls += 1
        outs = []
        for prompt, p in zip(prompts, params, strict=True):
            assert p.n == 1 and p.include_stop_str_in_output and p.max_tokens >= 1
            context = self.tok.decode(prompt["prompt_token_ids"])
            self.calls.append((context, p))
            outs.append(SimpleNamespace(outputs=[self._complete(self.script(context, p.seed), p)]))
        return outs

    def _complete(self, text: str, p) -> SimpleNamespace:
        ids = [*self.tok(text, add_special_tokens=False)["input_ids"], self.tok.eos_token_id]
        for n in range(1, len(ids) + 1):
            out = self.tok.decode(ids[:n], skip_special_tokens=True)
            if ids[n - 1] == self.tok.eos_token_id:
                return SimpleNamespace(text=out, token_ids=ids[:n], finish_reason="stop", stop_reason=None)
            hits = [(out.find(s) + len(s), s) for s in p.stop if s in out]
            if hits:
                end, stop = min(hits)
                return SimpleNamespace(
                    text=out[:end], token_ids=ids[:n], finish_reason="stop", stop_reason=stop
                )
            if n == p.max_tokens:
                return SimpleNamespace(text=out, token_ids=ids[:n], finish_reason="length", stop_reason=None)
        raise AssertionError("unreachable: the script ends with EOS")


@pytest.fixture(scope="module")
def tok():
    from flexjudge.backbones.tiny import tiny_tokenizer

    return tiny_tokenizer()


def count(tok, text: str) -> int:
    return len(tok(text, add_special_tokens=False)["input_ids"])


def engine(tok, script, budget: Budget | None = None, batch_size: int = 256) -> tuple[VLLMEngine, FakeLLM]:
    llm = FakeLLM(tok, script)
    return VLLMEngine.from_llm(
        llm, tok, budget=budget, batch_size=batch_size, sampling_params=SimpleNamespace
    ), llm


REQUESTS = [
    Request(f"Human: question {i}{'?' * i}\n{THINK_PREFILL}", f"key{i}", votes, think_open=True)
    for i, votes in enumerate([(0, 1, 2), (1, 3), (0,)])
]
SAMPLED = SamplingParams(max_new_tokens=64, temperature=1.0, seed=7)


def test_votes_come_in_request_order_with_their_own_seeds(tok):
    eng, llm = engine(tok, thinker)
    gens = eng.generate(REQUESTS, SAMPLED, progress=False)
    for req, req_gens in zip(REQUESTS, gens, strict=True):
        assert req_gens is not None and len(req_gens) == len(req.votes)
        for v, g in zip(req.votes, req_gens, strict=True):
            assert (
                g.text
                == f" thought {vote_seed(7, req.key, v) % 1000} {THINK_CLOSE}\n{ANSWER_OPEN}A</answer> trailing"
            )
            assert g.finished and g.rounds == 0 and not g.forced_close
    seeds = sorted(p.seed for _, p in llm.calls)
    assert seeds == sorted(vote_seed(7, r.key, v) for r in REQUESTS for v in r.votes)


def test_votes_do_not_depend_on_the_batches(tok):
    budget = Budget(min_think_rounds=1)
    together, llm1 = engine(tok, thinker, budget)
    alone, llm2 = engine(tok, thinker, budget, batch_size=1)
    a = together.generate(REQUESTS, SAMPLED, progress=False)
    assert llm1.generate_calls == 3  # one batch: think, think again after "Wait", answer
    b = alone.generate(REQUESTS, SAMPLED, progress=False)
    assert llm2.generate_calls == 3 * len(REQUESTS)
    assert sorted((ctx, p.seed) for ctx, p in llm1.calls) == sorted((ctx, p.seed) for ctx, p in llm2.calls)
    c = together.generate(REQUESTS, SAMPLED, batches=[[2, 0], [1]], progress=False)
    assert a == b == c


def test_greedy_sends_no_seed_and_stop_strings_end_the_vote(tok):
    eng, llm = engine(tok, thinker)
    params = SamplingParams(max_new_tokens=64, stop_strings=("</answer>",))
    (gens,) = eng.generate(REQUESTS[2:], params, progress=False)
    assert gens[0].text == f" thought 0 {THINK_CLOSE}\n{ANSWER_OPEN}A</answer>" and gens[0].finished
    assert all(p.seed is None and p.temperature == 0.0 for _, p in llm.calls)


def test_no_budget_is_one_pass_with_think_and_answer_counted(tok):
    eng, llm = engine(tok, thinker)
    (gens,) = eng.generate(REQUESTS[2:], SamplingParams(max_new_tokens=64), progress=False)
    g = gens[0]
    assert len(llm.calls) == 1 and llm.calls[0][1].max_tokens == 64
    head = g.text[: g.text.index(THINK_CLOSE)]
    assert g.think_tokens == count(tok, head)
    assert g.answer_tokens == g.n_tokens - count(tok, head + THINK_CLOSE) > 0


def test_min_think_rounds_send_an_early_close_back(tok):
    eng, _ = engine(tok, thinker, Budget(min_think_rounds=2))
    (gens,) = eng.generate(REQUESTS[2:], SamplingParams(max_new_tokens=64), progress=False)
    g = gens[0]
    assert (
        g.text
        == f" thought 0 \nWait thought 0 \nWait thought 0 {THINK_CLOSE}\n{ANSWER_OPEN}A</answer> trailing"
    )
    assert g.text.count("\nWait") == 2 and g.rounds == 2 and not g.forced_close and g.finished
    assert g.think_tokens + count(tok, THINK_CLOSE) + g.answer_tokens == g.n_tokens


def test_stopping_while_thinking_is_sent_back_then_closed(tok):
    eng, _ = engine(tok, stopper, Budget(min_think_rounds=1))
    (gens,) = eng.generate(REQUESTS[2:], SamplingParams(max_new_tokens=64), progress=False)
    g = gens[0]
    assert g.text == f" hmm\nWait hmm{Budget.forced_close}A</answer>"
    assert g.rounds == 1 and g.forced_close and g.finished
    # the two EOS tokens were replaced by forced text, not kept
    assert g.think_tokens == 2 * count(tok, " hmm") + count(tok, "\nWait")
    assert g.answer_tokens == count(tok, Budget.forced_close) + count(tok, "A</answer>") + 1  # + EOS


def test_max_think_tokens_forces_the_close(tok):
    eng, llm = engine(tok, rambler, Budget(max_think_tokens=10))
    (gens,) = eng.generate(REQUESTS[2:], SamplingParams(max_new_tokens=64), progress=False)
    g = gens[0]
    assert llm.calls[0][1].max_tokens == 10 and THINK_CLOSE in llm.calls[0][1].stop
    assert g.forced_close and g.think_tokens == 10 and g.rounds == 0 and g.finished
    assert g.text.endswith(f"{Budget.forced_close}A</answer>")
    assert g.n_tokens == g.think_tokens + g.answer_tokens <= 64


def test_max_new_tokens_bounds_a_vote(tok):
    eng, _ = engine(tok, rambler)
    (gens,) = eng.generate(REQUESTS[2:], SamplingParams(max_new_tokens=12), progress=False)
    assert gens[0].n_tokens == 12 and not gens[0].finished and gens[0].answer_tokens is None


def test_on_batch_per_batch_and_none_outside_the_batches(tok):
    eng, _ = engine(tok, thinker)
    seen: list[tuple[list[int], int]] = []
    gens = eng.generate(
        REQUESTS, SAMPLED, batches=[[2], [0]], on_batch=lambda i, g: seen.append((i, len(g))), progress=False
    )
    assert seen == [([2], 1), ([0], 1)]
    assert gens[1] is None and gens[0] is not None and gens[2] is not None


@pytest.mark.slow
@pytest.mark.gpu
def test_real_vllm_smoke(request):
    pytest.importorskip("vllm")
    from flexjudge.backbones.loader import read_manifest

    manifest = request.getfixturevalue("tiny_manifest")  # provisioned only when the test can run
    eng = VLLMEngine(
        read_manifest(manifest)["weights"],
        budget=Budget(min_think_rounds=1),
        batch_size=2,
        gpu_memory_utilization=0.3,
        max_model_len=1024,
    )
    params = SamplingParams(max_new_tokens=24, temperature=1.0, seed=3)
    a = eng.generate(REQUESTS, params, progress=False)
    b = eng.generate(REQUESTS, params, batches=[[2], [1, 0]], progress=False)
    assert a == b
    assert all(len(g) == len(r.votes) for g, r in zip(a, REQUESTS, strict=True) if g is not None)
    assert all(0 < v.n_tokens <= 24 + 8 for gens in a if gens for v in gens)


def test_answer_forcing_in_rounds_holds_the_answer_to_the_tag_count(tok, answer_case):
    prompt = REQUESTS[2].prompt
    _, script, answer, forced, cut = answer_case
    eng, llm = engine(tok, lambda context, seed: script(context[len(prompt) :]), Budget(answer_forcing=True))
    request = Request(prompt, "q", (0,), think_open=True, answers=3)
    (gens,) = eng.generate([request], SamplingParams(max_new_tokens=64), progress=False)
    g = gens[0]
    assert g.text == f" brief\n</think>\n{answer}"
    assert (g.forced_answers, g.answer_cut, g.finished) == (forced, cut, True)
    assert g.think_tokens + count(tok, THINK_CLOSE) + g.answer_tokens == g.n_tokens
    assert all("</answer>" in p.stop for _, p in llm.calls[1:] if p.max_tokens > 1)  # a tag per call
    plain, _ = engine(tok, lambda context, seed: script(context[len(prompt) :]))
    (free,) = plain.generate([request], SamplingParams(max_new_tokens=64), progress=False)
    if not forced and not cut:
        assert free[0].text == g.text
