"""The judging engine: exact greedy decoding, one prefill per prompt, batch-independent votes, nucleus
sampling, and budget forcing on the real embedded default."""

from __future__ import annotations

import pytest
import torch

from flexjudge.backbones.loader import load_judge
from flexjudge.generate.budget import Budget
from flexjudge.generate.engine import Request, SamplingParams, plan_batches
from flexjudge.generate.hf import (
    MIN_SHARED_PREFIX,
    Engine,
    generate,
    prefill_chunks,
    sample_rows,
    sample_tokens,
    shared_prefix,
)
from flexjudge.protocol.parsing import ParseFailure, parse_pair_verdict
from flexjudge.protocol.prompts import THINK_PREFILL, generated_with_prefill

PROMPTS = [
    "Human: How do I boil an egg?",
    "Human: Is it safe to eat raw chicken? Please answer carefully and explain why.",
    "Human: hi",
    "Human: Tell me a joke about cats and dogs living together in a small flat.",
]


@pytest.fixture(scope="module")
def tiny(tiny_manifest):
    judge = load_judge(tiny_manifest, device="cpu")
    chat = [
        judge.tokenizer.apply_chat_template(
            [{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True
        )
        for p in PROMPTS
    ]
    return judge.model, judge.tokenizer, chat


def test_greedy_votes_equal_plain_generate(tiny):
    model, tok, prompts = tiny
    gens = generate(model, tok, prompts, SamplingParams(max_new_tokens=12), batch_size=4, progress=False)
    for prompt, (gen,) in zip(prompts, gens, strict=True):
        enc = tok(prompt, add_special_tokens=False, return_tensors="pt")
        with torch.inference_mode():
            out = model.generate(**enc, max_new_tokens=12, do_sample=False, pad_token_id=tok.pad_token_id)
        new = out[0, enc["input_ids"].shape[1] :].tolist()
        ended = tok.eos_token_id in new
        new = new[: new.index(tok.eos_token_id) + 1] if ended else new
        assert gen.text == tok.decode(new, skip_special_tokens=True)
        assert gen.n_tokens == len(new) and gen.finished == ended


def test_k_votes_come_from_one_prefill_per_prompt(tiny):
    model, tok, prompts = tiny
    calls: list[tuple[int, int]] = []
    hook = model.register_forward_pre_hook(
        lambda _m, _a, kw: calls.append(tuple(kw["input_ids"].shape)), with_kwargs=True
    )
    try:
        engine = Engine(model, tok, batch_size=2)
        requests = [Request(p, f"p{i}", (0, 1, 2, 3, 4)) for i, p in enumerate(prompts)]
        gens = engine.generate(requests, SamplingParams(max_new_tokens=6, temperature=1.0), progress=False)
    finally:
        hook.remove()
    prefills = [shape for shape in calls if shape[1] > 1]
    assert [rows for rows, _ in prefills] == [2, 2]  # 2 batches of 2 prompts, never prompts x votes
    assert all(rows <= 10 and width == 1 for rows, width in calls if (rows, width) not in prefills)
    assert [len(v) for v in gens] == [5] * 4


def test_shared_prefix_is_prefilled_once_and_changes_nothing(tiny):
    model, tok, _ = tiny
    head = "Judge the reply: weigh how helpful, honest and harmless it is, then give a verdict. " * 2
    prompts = [head + p for p in PROMPTS]
    encoded = [tok(p, add_special_tokens=False)["input_ids"] for p in prompts]
    shared = shared_prefix(encoded)
    assert shared >= MIN_SHARED_PREFIX and all(e[:shared] == encoded[0][:shared] for e in encoded)
    assert shared_prefix([encoded[0], encoded[0]]) == len(encoded[0]) - 1  # a prompt keeps its last token
    assert shared_prefix([encoded[0]]) == 0 and shared_prefix([encoded[0][:5], encoded[0][:9]]) == 0
    calls: list[tuple[int, int]] = []
    hook = model.register_forward_pre_hook(
        lambda _m, _a, kw: calls.append(tuple(kw["input_ids"].shape)), with_kwargs=True
    )
    try:
        gens = generate(model, tok, prompts, SamplingParams(max_new_tokens=12), batch_size=4, progress=False)
    finally:
        hook.remove()
    widths = [len(e) for e in encoded]
    assert calls[:2] == [(1, shared), (4, max(widths) - shared)]  # the prefix once, then each prompt's rest
    for prompt, (gen,) in zip(prompts, gens, strict=True):  # greedy text as from each prompt alone
        enc = tok(prompt, add_special_tokens=False, return_tensors="pt")
        with torch.inference_mode():
            out = model.generate(**enc, max_new_tokens=12, do_sample=False, pad_token_id=tok.pad_token_id)
        new = out[0, enc["input_ids"].shape[1] :].tolist()
        new = new[: new.index(tok.eos_token_id) + 1] if tok.eos_token_id in new else new
        assert gen.text == tok.decode(new, skip_special_tokens=True)
    requests = [Request(p, f"p{i}", (0,)) for i, p in enumerate(prompts)]
    by_row = Engine(model, tok, batch_size=4, prefill_tokens=1).generate(
        requests, SamplingParams(max_new_tokens=12), progress=False
    )
    assert [v[0].text for v in by_row] == [v[0].text for v in gens]  # each prompt's part alone, same votes


def test_prefill_chunks_hold_the_position_budget_each_padded_to_its_own_longest():
    assert prefill_chunks([300, 250, 200, 120, 100, 90], 600) == [(0, 2), (2, 5), (5, 6)]
    assert prefill_chunks([900, 10, 10], 600) == [(0, 1), (1, 3)]  # a row over the budget goes alone
    assert prefill_chunks([5, 5, 5], None) == [(0, 3)] and prefill_chunks([], 64) == []


def test_a_vote_does_not_depend_on_its_batch(tiny):
    model, tok, prompts = tiny
    params = SamplingParams(max_new_tokens=10, temperature=1.0, seed=3)
    requests = [Request(p, f"p{i}", (0, 1, 2)) for i, p in enumerate(prompts)]
    together = Engine(model, tok, batch_size=4).generate(requests, params, progress=False)
    alone = Engine(model, tok, batch_size=1).generate(requests, params, progress=False)
    only_vote_2 = Engine(model, tok, batch_size=3).generate(
        [Request(r.prompt, r.key, (2,)) for r in requests], params, progress=False
    )
    assert [[g.text for g in v] for v in together] == [[g.text for g in v] for v in alone]
    assert [v[0].text for v in only_vote_2] == [v[2].text for v in together]
    assert len({g.text for v in together for g in v}) > 4  # votes differ from one another
    reseeded = Engine(model, tok, batch_size=4).generate(
        requests, SamplingParams(max_new_tokens=10, temperature=1.0, seed=4), progress=False
    )
    assert [[g.text for g in v] for v in reseeded] != [[g.text for g in v] for v in together]


def test_a_mixed_batch_gives_each_request_its_own_sampling(tiny):
    """A pooled call's requests carry their own temperature and top-p: in one batch, each request's votes
    are the ones a call with only its settings draws (greedy stays greedy beside sampled rows)."""
    model, tok, prompts = tiny
    params = SamplingParams(max_new_tokens=10, seed=3)  # the call's own temperature (0) is overridden
    own = [(0.0, 1.0), (1.0, 1.0), (0.7, 0.9), (1.0, 1.0)]
    mixed = Engine(model, tok, batch_size=4).generate(
        [
            Request(p, f"p{i}", (0, 1, 2), sampling=s)
            for i, (p, s) in enumerate(zip(prompts, own, strict=True))
        ],
        params,
        progress=False,
    )
    for i, (prompt, (t, top_p)) in enumerate(zip(prompts, own, strict=True)):
        alone = Engine(model, tok, batch_size=1).generate(
            [Request(prompt, f"p{i}", (0, 1, 2))],
            SamplingParams(max_new_tokens=10, temperature=t, top_p=top_p, seed=3),
            progress=False,
        )[0]
        assert [g.text for g in mixed[i]] == [g.text for g in alone]
    assert len({g.text for g in mixed[0]}) == 1  # the greedy request's three votes agree
    assert len({g.text for g in mixed[1]}) > 1  # sampled votes differ
    assert SamplingParams(8, 0.0, 0.5).of(Request("x", "k", sampling=(0.7, 0.9))) == SamplingParams(
        8, 0.7, 0.9
    )


def test_the_engine_counts_the_prompt_tokens_it_prefills(tiny):
    """What the stage log's prompt + generated rate counts: each prompt whole, once for its k votes."""
    model, tok, prompts = tiny
    engine = Engine(model, tok, batch_size=2)
    requests = [Request(p, f"p{i}", (0, 1, 2)) for i, p in enumerate(prompts)]
    engine.generate(requests, SamplingParams(max_new_tokens=3), progress=False)
    assert engine.prompt_tokens == sum(len(engine.encode(p)) for p in prompts)


def test_sample_rows_equals_each_rows_own_settings():
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(40, 300, generator=gen) * torch.linspace(0.2, 5, 40).unsqueeze(-1)
    uniforms = torch.rand(40, generator=gen)
    settings = [[(0.0, 1.0), (0.7, 0.9), (1.0, 1.0), (0.7, 1.0), (1.3, 0.5)][r % 5] for r in range(40)]
    got = sample_rows(logits, settings, uniforms).tolist()
    assert got == [
        int(sample_tokens(logits[r : r + 1], t, p, uniforms[r : r + 1])[0])
        for r, (t, p) in enumerate(settings)
    ]
    same = [(0.7, 0.9)] * 40
    assert sample_rows(logits, same, uniforms).tolist() == sample_tokens(logits, 0.7, 0.9, uniforms).tolist()


def test_plan_batches_sorts_longest_first_and_is_stable():
    assert plan_batches([3, 9, 3, 5, 9], 2) == [[1, 4], [3, 0], [2]]
    with pytest.raises(ValueError, match="batch_size"):
        plan_batches([1], 0)
    with pytest.raises(ValueError, match="max_rows"):
        plan_batches([1], 4, max_rows=0)
    with pytest.raises(ValueError, match="vote counts"):
        plan_batches([1, 2], 4, [1])


def test_plan_batches_fills_a_row_budget_whatever_the_votes():
    lengths = list(range(100, 0, -1))  # already longest first
    k1 = plan_batches(lengths, 80, [1] * 100, max_rows=80)
    k5 = plan_batches(lengths, 80, [5] * 100, max_rows=80)
    assert [len(b) for b in k1] == [80, 20]  # single votes: 80 prompts fill the 80 rows
    assert [len(b) for b in k5] == [16] * 6 + [4]  # five votes each: 16 prompts fill the same rows
    assert [i for b in k1 for i in b] == list(range(100))  # every prompt once, longest first
    # mixed vote counts: a prompt that would overflow the rows starts the next batch
    assert plan_batches([9, 8, 7, 6], 10, [3, 3, 3, 3], max_rows=7) == [[0, 1], [2, 3]]
    # a prompt with more votes than the budget still runs, alone
    assert plan_batches([9, 8], 10, [12, 1], max_rows=8) == [[0], [1]]


def test_plan_batches_keeps_the_cache_budget():
    # positions: prompts × the longest (the first) + rows × new tokens
    lengths = [50, 40, 30, 20]
    assert plan_batches(lengths, 10, None, max_tokens=2 * 50 + 2 * 10, new_tokens=10) == [[0, 1], [2, 3]]
    assert plan_batches(lengths, 10, None, max_tokens=10_000, new_tokens=10) == [[0, 1, 2, 3]]


def test_engine_plans_rows_so_k1_and_k5_batches_hold_equal_rows(tiny):
    model, tok, _ = tiny
    engine = Engine(model, tok, batch_size=64, batch_rows=20)
    params = SamplingParams(max_new_tokens=4)
    k1 = engine.plan([10] * 40, [1] * 40, params)
    k5 = engine.plan([10] * 40, [5] * 40, params)
    assert {len(b) for b in k1} == {20} and {len(b) * 5 for b in k5} == {20}


def _reference_nucleus(probs: torch.Tensor, top_p: float, u: float) -> int:
    """Inverse CDF over the nucleus in order of probability (the whole vocabulary in its own order at top_p=1)."""
    p, idx = probs.sort(descending=True) if top_p < 1 else (probs, torch.arange(len(probs)))
    keep = (p.cumsum(-1) - p) < top_p
    cdf = (p * keep).cumsum(-1)
    return int(idx[min(int((cdf < u * cdf[-1]).sum()), len(p) - 1)])


@pytest.mark.parametrize("top_p", [0.5, 0.95, 0.999, 1.0])
def test_sample_tokens_matches_a_sorted_nucleus(top_p):
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(64, 500, generator=gen) * torch.linspace(0.1, 6, 64).unsqueeze(-1)  # flat to peaked
    uniforms = torch.rand(64, generator=gen)
    got = sample_tokens(logits, 0.7, top_p, uniforms).tolist()
    probs = torch.softmax(logits / 0.7, dim=-1)
    assert got == [_reference_nucleus(probs[r], top_p, float(uniforms[r])) for r in range(64)]
    assert sample_tokens(logits, 0.0, top_p, None).tolist() == logits.argmax(-1).tolist()


def test_budget_settings_are_checked():
    with pytest.raises(ValueError, match="max_think_tokens=0"):
        Budget(max_think_tokens=0)
    with pytest.raises(ValueError, match="leaves no room"):
        Budget(max_think_tokens=60).check(64)
    assert not Budget().active and Budget(min_think_rounds=1).active


# --- budget forcing on the real embedded default (SmolLM2-135M-Instruct inside Qwen2.5-VL) ------------

SYSTEM = (
    "You compare two replies. Think briefly inside <think></think>, then write the better reply's letter "
    "inside <answer></answer>."
)
SHOTS = [
    (
        "Question: What is the capital of France?\nA: Paris\nB: London",
        "Paris is the capital of France, so A is right.",
    ),
    ("Question: What is 3+4?\nA: 8\nB: 7", "3+4 equals 7, so B is right."),
]
QUESTIONS = [
    "Question: What color is the sky on a clear day?\nA: Green\nB: Blue",
    "Question: How many legs does a dog have?\nA: Four\nB: Two",
    "Question: What is 5+5?\nA: 10\nB: 12",
]


@pytest.fixture(scope="module")
def smollm2(smollm2_manifest):
    judge = load_judge(smollm2_manifest, device="cpu")
    prompts = []
    for q in QUESTIONS:
        messages = [{"role": "system", "content": SYSTEM}]
        for user, reason in SHOTS:
            answer = "A" if "so A" in reason else "B"
            messages += [
                {"role": "user", "content": user},
                {
                    "role": "assistant",
                    "content": f"{THINK_PREFILL}{reason}\n</think>\n<answer>{answer}</answer>",
                },
            ]
        messages.append({"role": "user", "content": q})
        text = judge.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        prompts.append(text + THINK_PREFILL)
    return judge.model, judge.tokenizer, prompts


def _judge(smollm2, budget: Budget):
    model, tok, prompts = smollm2
    engine = Engine(model, tok, budget=budget, batch_size=3)
    requests = [Request(p, f"q{i}", (0,), think_open=True) for i, p in enumerate(prompts)]
    return [v[0] for v in engine.generate(requests, SamplingParams(max_new_tokens=96), progress=False)]


@pytest.mark.slow
@pytest.mark.network
@pytest.mark.parametrize("rounds", [1, 2])
def test_min_think_rounds_append_wait_and_answers_still_parse(smollm2, rounds):
    plain = _judge(smollm2, Budget())
    assert all(g.rounds == 0 and "Wait" not in g.text for g in plain)  # the model closes early on its own
    gens = _judge(smollm2, Budget(min_think_rounds=rounds))
    for gen in gens:
        parsed = parse_pair_verdict(generated_with_prefill(gen.text, True))
        # the tags are intact: one closed think section, one answer tag (a 135M model may still answer "10")
        assert parsed.failure in (None, ParseFailure.INVALID_VALUE), gen.text
        assert gen.rounds == rounds and parsed.think.count("\nWait") == rounds, gen.text
        assert gen.think_tokens is not None and gen.answer_tokens is not None
    assert sum(parse_pair_verdict(generated_with_prefill(g.text, True)).ok for g in gens) >= 2


@pytest.mark.slow
@pytest.mark.network
def test_rounds_that_loop_are_still_closed_in_time_to_answer(smollm2):
    # with 4 rounds this model starts repeating itself; the engine closes its thinking so it can answer
    for gen in _judge(smollm2, Budget(min_think_rounds=4)):
        parsed = parse_pair_verdict(generated_with_prefill(gen.text, True))
        assert parsed.failure in (None, ParseFailure.INVALID_VALUE), gen.text
        assert gen.rounds == 4 or gen.forced_close
        assert gen.think_tokens <= 96 - 16


@pytest.mark.slow
@pytest.mark.network
def test_max_think_tokens_caps_every_think_section(smollm2):
    _, tok, _ = smollm2
    cap = 8
    gens = _judge(smollm2, Budget(max_think_tokens=cap))
    assert any(g.forced_close for g in gens)
    for gen in gens:
        parsed = parse_pair_verdict(generated_with_prefill(gen.text, True))
        assert parsed.failure is None, gen.text
        assert gen.think_tokens <= cap
        assert len(tok(parsed.think, add_special_tokens=False)["input_ids"]) <= cap


# --- answer forcing (Budget.answer_forcing): a scripted judge on the real engine loop ---------------------


def test_held_answer_moves():
    from flexjudge.generate.budget import held_answer

    assert held_answer("\n<answer>4</answer>", 2, True) == "<answer>"  # stops short outside a tag: open one
    assert held_answer("\n<answer>4</answer><answer>3", 3, True) == "</answer><answer>"  # inside: close, open
    assert held_answer("\n<answer>4</answer><answer>3", 2, True) == "</answer>"  # the last one: close only
    assert held_answer("\n<answer>4</answer><answer> ", 2, True) is None  # an empty tag is not closed for it
    assert held_answer("\n<answer>4</answer><answer>3</answer>", 2, False) == ""  # all closed, goes on: end
    assert held_answer("\n<answer>4</answer><answer>3</answer>", 2, True) is None  # all closed and it ends
    assert held_answer("\n<answer>4", 2, False) is None  # mid-answer: the judge's own token stands
    assert Budget(answer_forcing=True).active and Budget(answer_forcing=True).key()["answers"] is True
    assert "answers" not in Budget(max_think_tokens=64).key()  # keys of votes cached before it are kept


class ScriptedEngine(Engine):
    """The real engine, with the judge's next token taken from a script of what it would write next."""

    def __init__(self, model, tokenizer, script, **kw):
        super().__init__(model, tokenizer, **kw)
        self.script = script

    def _choose(self, vote, sampled):
        if not vote.forced:
            rest = self.script(self.tokenizer.decode(vote.ids, skip_special_tokens=True))
            sampled = self.encode(rest)[0] if rest else self.end_id
        return super()._choose(vote, sampled)


def test_answer_forcing_holds_the_answer_to_the_tag_count(tiny, answer_case):
    from flexjudge.protocol.formats import BatchRanking

    model, tok, prompts = tiny
    request = Request(prompts[0] + THINK_PREFILL, "q", (0,), think_open=True, answers=3)
    params = SamplingParams(max_new_tokens=64)
    judge, script, answer, forced, cut = answer_case
    (held,) = ScriptedEngine(model, tok, script, budget=Budget(answer_forcing=True)).generate(
        [request], params, progress=False
    )
    (free,) = ScriptedEngine(model, tok, script).generate([request], params, progress=False)
    gen, plain = held[0], free[0]
    assert gen.text.startswith(f" brief\n</think>\n{answer}"), gen.text
    assert gen.text[len(" brief\n</think>\n" + answer) :] in ("", "<")  # a cut may keep the token it ended on
    assert (gen.forced_answers, gen.answer_cut, gen.finished) == (forced, cut, True)
    parsed = BatchRanking().parse(generated_with_prefill(gen.text, True), 3)
    assert parsed.ok == (judge != "empty"), gen.text
    if not forced and not cut:  # a judge that needed no help writes what it writes without forcing
        assert gen.text == plain.text and gen.n_tokens == plain.n_tokens
    else:
        assert not BatchRanking().parse(generated_with_prefill(plain.text, True), 3).ok
    # without a tag count (a baseline's format) the engine never touches the answer
    (untouched,) = ScriptedEngine(model, tok, script, budget=Budget(answer_forcing=True)).generate(
        [Request(request.prompt, "q", (0,), think_open=True)], params, progress=False
    )
    assert untouched[0].text == plain.text and untouched[0].forced_answers == 0


def test_answer_forcing_closes_a_think_section_left_open_as_any_budget_does(tiny, answer_scripts):
    """A judge that stops inside <think>: answer forcing makes the budget active, so the engine closes the
    section and opens the answer (forced_close, as under think64), and the judge's tags then stand."""
    model, tok, prompts = tiny
    request = Request(prompts[0] + THINK_PREFILL, "q", (0,), think_open=True, answers=3)
    engine = ScriptedEngine(model, tok, answer_scripts["unthought"], budget=Budget(answer_forcing=True))
    (gens,) = engine.generate([request], SamplingParams(max_new_tokens=64), progress=False)
    gen = gens[0]
    assert gen.forced_close and gen.forced_answers == 0 and not gen.answer_cut
    assert gen.text == f" brief{Budget.forced_close}4</answer><answer>3</answer><answer>2</answer>"
    (free,) = ScriptedEngine(model, tok, answer_scripts["unthought"]).generate(
        [request], SamplingParams(max_new_tokens=64), progress=False
    )
    assert free[0].text == " brief" and not free[0].forced_close
