"""Curation faithful to the paper, on a JudgeLM-format fixture with known teacher outputs: which rows
survive each filter and which pairwise / single-score / rescaled items come out, computed by hand;
pool readers, deduplication and decontamination (a planted benchmark prompt is removed and counted)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import stage_cfg
from flexjudge.core.io import DataError, read_jsonl
from flexjudge.data.dedup import NgramIndex, drop_exact_duplicates, drop_near_duplicates
from flexjudge.data.pools import PoolRow, iter_pool, read_pool
from flexjudge.data.selection import BORROWED_REPLY, SCALE_10, SelectionConfig, cut_single, select


def words(texts: list[str]) -> list[int]:
    """A stand-in tokenizer for hand computation: one token per word."""
    return [len(t.split()) for t in texts]


def judgelm(qid: int, question: str, a1: str, a2: str, score) -> dict:
    return {
        "question_id": qid,
        "question_body": question,
        "answer1_body": a1,
        "answer2_body": a2,
        "answer1_model_id": "m1",
        "answer2_model_id": "m2",
        "score": score,
        "text": f"{score[0]} {score[1]}\nGPT-4's explanation.",
    }


def teacher(reasoning: str, s1, s2) -> str:
    return f"<think>\n{reasoning}\n</think>\n<answer>{s1}</answer><answer>{s2}</answer>"


@pytest.fixture
def planted(tmp_path) -> str:
    """A benchmark prompt: the first question of the JudgeLM mini (built from hh-rlhf pairs)."""
    from flexjudge.minis import run

    run(stage_cfg("minis", tmp_path, "family=text", f"out_dir={tmp_path / 'bench'}", "n_items=5"))
    return read_jsonl(tmp_path / "bench" / "JudgeLM-100K" / "judgelm_val_5k.jsonl")[0]["question_body"]


@pytest.fixture
def pool_file(tmp_path, planted) -> Path:
    rows = [
        judgelm(1, "How do I keep basil fresh?", "Put the stems in water.", "Basil is green.", [8, 3]),
        judgelm(2, "What is the capital of Peru?", "Quito.", "Lima is the capital.", [2, 9]),
        judgelm(3, "Name a prime number.", "Seven.", "Eleven.", [7, 7]),
        judgelm(4, "How long to boil an egg?", "About nine minutes.", "Eggs are food.", [6, 4]),
        judgelm(5, "Is the sea salty?", "Yes.", "No.", [11, 2]),  # out of the 1-10 range: a bad row
        judgelm(6, "How do I keep basil fresh?", "Basil is green.", "Put the stems in water.", [3, 8]),  # q1
        judgelm(7, planted, "A reply.", "Another reply.", [5, 4]),  # a benchmark prompt planted in the pool
    ]
    path = tmp_path / "judgelm_train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


SAMPLES = [
    # q1: both seeds agree with [8, 3]; seed 79 reasons longer (18 words) and is kept
    {"id": "judgelm-1", "seed": 13, "text": teacher("Reply A helps. Reply B does not.", 8, 3)},
    {
        "id": "judgelm-1",
        "seed": 79,
        "text": teacher(
            "Reply A gives a method that works, water for the stems. Reply B states a fact, nothing more.",
            8,
            3,
        ),
    },
    # q2: 3 vs gold 2 (not exact), then no answer tags: no survivor
    {"id": "judgelm-2", "seed": 13, "text": teacher("Reply B is right. Reply A names the wrong city.", 3, 9)},
    {"id": "judgelm-2", "seed": 79, "text": "<think>\nLima.\n</think>\nB is better."},
    # q3: the tie [7, 7]; 12 words that never single out reply B, so it cannot be cut
    {
        "id": "judgelm-3",
        "seed": 13,
        "text": teacher("Both replies name a prime number and both are equally correct here.", 7, 7),
    },
    # q4: agrees; 9 words, of which the 5 before reply B's sentence form the single-score item
    {"id": "judgelm-4", "seed": 13, "text": teacher("Reply A gives a time. Reply B is vague.", 6, 4)},
]


def curate(tmp_path: Path, pool_file: Path, *extra: str) -> dict:
    from flexjudge.curate import run

    return run(
        stage_cfg(
            "curate",
            tmp_path,
            f"pool.path={pool_file}",
            "pool.format=judgelm",
            f"paths.benchmarks={tmp_path / 'bench'}",
            "decontaminate.benchmarks=[judgelm_val,pandalm]",
            "heldout_size=0",
            "pool_size=null",
            "max_chars=null",
            *extra,
        )
    )


def test_curate_counts_every_filter_and_removes_the_planted_prompt(tmp_path, pool_file):
    manifest = curate(tmp_path, pool_file)
    assert manifest["counts"] == {
        "read": 7,
        "bad_rows": {"score_out_of_range": 1},
        "usable": 6,
        "after_max_chars": 6,
        "after_exact_dedup": 5,  # q6 repeats q1 with the answers swapped
        "after_near_dedup": 5,
        "after_decontamination": 4,  # q7 is a JudgeLM-mini prompt
        "pool": 4,
        "heldout": 0,
    }
    assert manifest["removed_examples"]["exact_duplicates"] == ["judgelm-6"]
    decon = manifest["decontamination"]
    assert decon["removed"] == 1 and decon["removed_ids"] == ["judgelm-7"]
    assert decon["checked"] == {"judgelm_val": 5, "pandalm": 5} and decon["unchecked"] == []
    pool = list(iter_pool(tmp_path / "curate" / "pool.jsonl"))
    assert sorted(r.id for r in pool) == ["judgelm-1", "judgelm-2", "judgelm-3", "judgelm-4"]
    assert {r.id: r.scores for r in pool}["judgelm-2"] == (2.0, 9.0)
    # without decontamination the planted row stays
    assert curate(tmp_path / "b", pool_file, "decontaminate.enabled=false")["counts"]["pool"] == 5


def test_selection_equals_the_hand_computed_set(tmp_path, pool_file):
    curate(tmp_path, pool_file)
    pool = {r.id: r for r in iter_pool(tmp_path / "curate" / "pool.jsonl")}
    cfg = SelectionConfig(
        target=2, single_share=0.5, min_pair_tokens=10, min_single_tokens=5, rescale_share=0.0
    )
    rows, stats = select(pool, SAMPLES, cfg, words)
    counts = stats["counts"]
    assert counts["samples_on_policy"] == 6
    assert counts["unparsed_no_answer_tag"] == 1 and counts["disagreeing"] == 1
    assert counts["agreeing_on_policy"] == 4
    assert counts["prompts_with_survivor"] == 3  # q1, q3, q4
    assert counts["pair_candidates"] == 2  # q1 (18 words), q3 (12); q4 has 9
    assert counts["single_uncuttable"] == 1  # q3
    assert counts["single_cuttable"] == counts["single_counted"] == 1  # q4: "Reply A gives a time." = 5 words
    assert counts["single_too_short"] == 0
    assert [(r["id"], r["kind"], r["seed"], r["scores"]) for r in rows] == [
        ("judgelm-1/pair", "pair", 79, ["8", "3"]),
        ("judgelm-4/single", "single", 13, ["6"]),
    ]
    pair, single = rows
    assert pair["messages"][2]["content"].startswith("<think>\nReply A gives a method")
    assert pair["messages"][2]["content"].endswith("</think>\n<answer>8</answer><answer>3</answer>")
    assert "[Reply B]" in pair["messages"][1]["content"]
    assert single["messages"][2]["content"] == (
        "<think>\nReply A gives a time.\n</think>\n<answer>6</answer>"
    )
    assert (
        "[Reply B]" not in single["messages"][1]["content"]
        and "About nine minutes." in single["messages"][1]["content"]
    )
    assert stats["lengths"]["pair_reasoning_tokens"]["max"] == 18
    # all rescaled: scores halved onto 0.5-5, the prompts say so
    rows, stats = select(pool, SAMPLES, SelectionConfig(**{**cfg.__dict__, "rescale_share": 1.0}), words)
    assert [(r["scores"], r["scale"], r["rescaled"]) for r in rows] == [
        (["4.0", "1.5"], [0.5, 5.0], True),
        (["3.0"], [0.5, 5.0], True),
    ]
    assert "from 0.5 to 5.0" in rows[0]["messages"][0]["content"] and stats["counts"]["rescaled"] == 2
    # a bigger target with no more candidates: the shortfall is reported per kind
    _, stats = select(pool, SAMPLES, SelectionConfig(**{**cfg.__dict__, "target": 6}), words)
    assert stats["counts"]["shortfall_pair"] == 1 and stats["counts"]["shortfall_single"] == 2


def test_preference_pools_agree_by_direction_and_rationales_rank_last():
    row = PoolRow("p1", "Q?", ("good", "bad"), None, "A", "f:1")
    other = PoolRow("p2", "Q2?", ("bad", "good"), None, "B", "f:2")
    samples = [
        {"id": "p1", "seed": 1, "text": teacher("Reply A is fine. Reply B is not.", 7, 2)},
        {
            "id": "p1",
            "seed": 2,
            "text": teacher("Reply A is fine and the longest of all. Reply B is not.", 2, 7),
        },
        {
            "id": "p2",
            "seed": 1,
            "origin": "rationalized",
            "text": teacher("Reply A is poor. Reply B is much better here.", 3, 8),
        },
    ]
    cfg = SelectionConfig(target=2, single_share=0.0, min_pair_tokens=1, min_single_tokens=1)
    rows, stats = select({"p1": row, "p2": other}, samples, cfg, words)
    assert [(r["id"], r["origin"], r["scores"]) for r in rows] == [
        ("p1/pair", "on_policy", ["7", "2"]),  # the longer sample prefers B: it disagrees
        ("p2/pair", "rationalized", ["3", "8"]),
    ]
    rows, _ = select(
        {"p1": row, "p2": other},
        samples,
        SelectionConfig(**{**cfg.__dict__, "use_rationalized": False}),
        words,
    )
    assert [r["id"] for r in rows] == ["p1/pair"]


def test_cut_single_keeps_what_comes_before_reply_b():
    assert (
        cut_single("Reply A is right. It cites a source. Reply B guesses.")
        == "Reply A is right. It cites a source."
    )
    assert cut_single("Assistant 1 is thorough.\nAssistant 2 is short.") == "Assistant 1 is thorough."
    assert cut_single("Reply B is wrong.") is None  # nothing about A comes first
    assert cut_single("Both are fine.") is None  # B never singled out
    assert (
        cut_single("Good start. Reply A is fine and Reply B is not.") == "Good start."
    )  # B named mid-sentence
    assert cut_single("Reply A is fine and Reply B is not.") is None


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda r: r.pop("answer2_body"), r"train.jsonl:2: field 'answer2_body' must be text \(missing\)"),
        (lambda r: r.update(score=[8]), r"train.jsonl:2: field 'score' must be a pair of scores"),
        (lambda r: r.update(score=["x", 3]), r"train.jsonl:2: field 'score' must hold two numbers"),
        (lambda r: r.update(answer2_body=r["answer1_body"]), r"train.jsonl:2: the two answers are identical"),
        (lambda r: r.update(question_id=1), r"train.jsonl:2: id 'judgelm-1' appears on an earlier line"),
    ],
)
def test_judgelm_bad_rows_name_file_line(tmp_path, edit, message):
    rows = [judgelm(1, "Q1", "a", "b", [8, 3]), judgelm(2, "Q2", "c", "d", [4, 5])]
    edit(rows[1])
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(DataError, match=message):
        read_pool(path, "judgelm", on_bad_row="error")
    kept, skipped = read_pool(path, "judgelm", on_bad_row="skip")
    assert len(kept) == 1 and sum(skipped.values()) == 1


def test_generic_jsonl_pool_with_a_field_mapping(tmp_path):
    path = tmp_path / "prefs.jsonl"
    rows = [
        {"uid": "a", "prompt": "P1", "left": "x", "right": "y", "label": 2},
        {"uid": "b", "prompt": "P2", "left": "x", "right": "y", "label": "tie"},
        {"uid": "c", "prompt": "P3", "left": "x", "right": "y", "label": "maybe"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    fields = {"id": "uid", "question": "prompt", "answer1": "left", "answer2": "right", "preferred": "label"}
    kept, skipped = read_pool(path, "jsonl", fields=fields, on_bad_row="skip")
    assert [(r.id, r.preferred, r.scores) for r in kept] == [("pool-a", "B", None), ("pool-b", "tie", None)]
    assert skipped == {"bad_preference": 1}
    with pytest.raises(DataError, match=r"prefs.jsonl:3: field 'label' must be A, B, tie"):
        read_pool(path, "jsonl", fields=fields)
    with pytest.raises(ValueError, match="name the columns of question, answer1, answer2"):
        read_pool(path, "jsonl", fields={"question": "prompt"})


def test_hh_rlhf_pool_places_the_chosen_reply_by_a_seeded_coin():
    from conftest import HH_DATA

    rows, skipped = read_pool(HH_DATA, "hh_rlhf", on_bad_row="skip")
    again, _ = read_pool(HH_DATA, "hh_rlhf", on_bad_row="skip")
    assert rows == again and sum(skipped.values()) == 9
    share_a = sum(r.preferred == "A" for r in rows) / len(rows)
    assert 0.45 < share_a < 0.55 and all(r.scores is None for r in rows)


def test_near_duplicates_and_ngram_overlap():
    base = "Explain how photosynthesis turns light water and carbon dioxide into sugar and oxygen in plant leaves"
    rows = [
        PoolRow("a", base, ("Chlorophyll absorbs light.", "No idea."), (8, 2), "A", "f:1"),
        PoolRow("b", base, ("Chlorophyll absorbs light.", "No idea at all."), (8, 2), "A", "f:2"),
        PoolRow(
            "c",
            "Write a poem about autumn rain falling on a quiet city street at night",
            ("x", "y"),
            (5, 5),
            "tie",
            "f:3",
        ),
    ]
    kept, dropped = drop_near_duplicates(rows, threshold=0.8)
    assert [r.id for r in kept] == ["a", "c"] and dropped == ["b"]
    assert drop_exact_duplicates(rows)[1] == []
    index = NgramIndex([base], n=8)
    assert index.overlap(base) == 1.0 and index.overlap(rows[2].question) == 0.0
    assert (
        0.5
        < index.overlap("Please explain how photosynthesis turns light water and carbon dioxide into sugar")
        < 1.0
    )
    assert NgramIndex(["Rewrite 0."], n=8).overlap("rewrite 0") == 1.0  # short prompts match whole


def test_batch_items_are_off_by_default_and_built_from_unused_prompts(tmp_path, pool_file):
    """batch_share (a deviation from the paper's mix) turns a survivor not used as a pair or single item
    into a batch item: its replies as A and B with its scores, then replies from other conversations
    scored below them; every score differs, so the ranking is the gold."""
    from flexjudge.protocol.formats import BatchRanking

    curate(tmp_path, pool_file)
    pool = {r.id: r for r in iter_pool(tmp_path / "curate" / "pool.jsonl")}
    cfg = SelectionConfig(target=2, single_share=0.5, min_pair_tokens=10, min_single_tokens=5)
    assert "selected_batch" in select(pool, SAMPLES, cfg, words)[1]["counts"]
    assert select(pool, SAMPLES, cfg, words)[1]["counts"]["selected_batch"] == 0
    # one pair (q1), then a batch item: q3's tie cannot rank three replies, so q4 (6, 4) is taken
    rows, stats = select(
        pool, SAMPLES, SelectionConfig(**{**cfg.__dict__, "single_share": 0.0, "batch_share": 0.5}), words
    )
    assert [r["kind"] for r in rows] == ["pair", "batch"]
    batch = rows[1]
    assert batch["id"] == "judgelm-4/batch" and batch["scores"][:2] == ["6", "4"]
    assert batch["scores"][2] in {"1", "2", "3"}  # a borrowed reply scores below the pair
    user = batch["messages"][1]["content"]
    assert "[Reply C]" in user and "About nine minutes." in user and "Eggs are food." in user
    donor = user.split("[Reply C]\n")[1]
    assert donor in {a for r in pool.values() if r.id != "judgelm-4" for a in r.answers}
    parsed = BatchRanking(SCALE_10).parse(batch["messages"][2]["content"], 3)
    assert (
        parsed.ok
        and parsed.value.ranking == "ABC"
        and "give no two replies" in batch["messages"][0]["content"]
    )
    assert parsed.think == f"Reply A gives a time. Reply B is vague.\n\nReply C: {BORROWED_REPLY}"
    assert stats["counts"]["selected_batch"] == 1 and stats["counts"]["batch_unusable"] == 1
    # borrowed replies get the distinct scores below the pair they are given (the prompt asks for no two
    # equal), halved when rescaled; scores that tie or reach the pair are refused
    from flexjudge.data.selection import SCALE_5, Survivor, batch_row, score_line

    q4 = Survivor("judgelm-4", 13, "on_policy", "Reply A gives a time.", (6.0, 4.0), 5)
    extra = ["Eggs are food.", "About nine minutes."]
    assert batch_row(pool["judgelm-4"], q4, extra, [1, 3], SCALE_10)["scores"] == ["6", "4", "1", "3"]
    assert batch_row(pool["judgelm-4"], q4, extra, [1, 3], SCALE_5)["scores"] == ["3.0", "2.0", "0.5", "1.5"]
    for bad in ([2, 2], [1, 4], [1]):
        with pytest.raises(ValueError, match="distinct scores below"):
            batch_row(pool["judgelm-4"], q4, extra, bad, SCALE_10)
    # score_line (a deviation, off by default): the reasoning ends with each reply's label and score
    lined = batch_row(pool["judgelm-4"], q4, extra, [2, 1], SCALE_10, with_line=True)
    parsed = BatchRanking(SCALE_10).parse(lined["messages"][2]["content"], 4)
    assert parsed.ok and parsed.think.endswith("\n\nScores: A 6, B 4, C 2, D 1.")
    assert (
        "Scores:" not in batch_row(pool["judgelm-4"], q4, extra, [2, 1], SCALE_10)["messages"][2]["content"]
    )
    rows, _ = select(pool, SAMPLES, SelectionConfig(**{**cfg.__dict__, "score_line": True}), words)
    for r in rows:
        think = r["messages"][-1]["content"].split("</think>")[0].rstrip()
        assert think.endswith(f"\n\n{score_line(r['scores'])}"), r["id"]
    assert score_line(["7"]) == "Score: A 7." and score_line(["8", "3"]) == "Scores: A 8, B 3."
    with pytest.raises(ValueError, match="exceed 1"):
        SelectionConfig(single_share=0.7, batch_share=0.4)
    with pytest.raises(ValueError, match="batch_size=2"):
        SelectionConfig(batch_share=0.1, batch_size=2)


def test_a_structured_rationale_cuts_before_its_reply_b_part():
    from flexjudge.generate.teacher import STRUCTURE

    reasoning = f"{STRUCTURE[0]} It answers the question.\n\n{STRUCTURE[1]} It changes the subject."
    assert cut_single(reasoning) == f"{STRUCTURE[0]} It answers the question."


def test_hint_scores_take_one_pair_per_row_from_a_list():
    """rationalize.preference_scores: one (preferred, other) pair for every row, or a list from which each row
    takes one by a stable hash of its id; gold scores, where the pool has them, always win."""
    from flexjudge.data.pools import PoolRow
    from flexjudge.generate.teacher import hint_pairs, hint_scores

    rows = [PoolRow(f"hh-{i}", "q", ("a", "b"), None, "AB"[i % 2], "hh") for i in range(40)]
    assert {hint_scores(r, hint_pairs([8, 3])) for r in rows} == {(8, 3), (3, 8)}
    pairs = hint_pairs([[8, 3], [9, 2], [7, 4]])
    picked = [hint_scores(r, pairs) for r in rows]
    assert picked == [hint_scores(r, pairs) for r in rows]  # stable
    assert {max(p) for p in picked} == {7, 8, 9}
    assert all((p[0] > p[1]) == (r.preferred == "A") for r, p in zip(rows, picked, strict=True))
    gold = PoolRow("j-1", "q", ("a", "b"), (6.0, 2.0), "A", "judgelm")
    assert hint_scores(gold, pairs) == (6.0, 2.0)
    with pytest.raises(ValueError, match="preferred higher"):
        hint_pairs([[3, 8]])


def test_answer_first_selection_keeps_the_items_and_drops_only_the_reasoning(tmp_path, pool_file):
    """select.reasoning=false (the paper's Fig. 5 answer-first ablation): the very items of the reasoning-first
    set, each target the answer tags alone under the answer-first prompt, parsing back to the same scores."""
    from flexjudge.protocol.formats import BatchRanking, PairScores, SingleScore, answer_only

    curate(tmp_path, pool_file)
    pool = {r.id: r for r in iter_pool(tmp_path / "curate" / "pool.jsonl")}
    cfg = SelectionConfig(target=2, single_share=0.5, min_pair_tokens=10, min_single_tokens=5)
    first, answer = [], []
    for shares in ({}, {"single_share": 0.0, "batch_share": 0.5}):  # pair + single, then pair + batch
        mix = {**cfg.__dict__, **shares}
        first += select(pool, SAMPLES, SelectionConfig(**mix), words)[0]
        answer += select(pool, SAMPLES, SelectionConfig(**{**mix, "reasoning": False}), words)[0]
    assert [r["id"] for r in answer] == [r["id"] for r in first]
    assert {r["kind"] for r in first} == {"pair", "single", "batch"}
    formats = {"pair": PairScores(SCALE_10), "single": SingleScore(SCALE_10), "batch": BatchRanking(SCALE_10)}
    for a, f in zip(answer, first, strict=True):
        system, user, target = a["messages"]
        assert user == f["messages"][1] and a["scores"] == f["scores"]
        assert system["content"] == answer_only(f["messages"][0]["content"]) != f["messages"][0]["content"]
        assert "Give no reasoning" in system["content"] and "step by step" not in system["content"]
        assert "<think>" not in target["content"] and target["content"].startswith("<answer>")
        parsed = formats[a["kind"]].parse(target["content"], len(a["scores"]))
        reasoned = formats[a["kind"]].parse(f["messages"][2]["content"], len(f["scores"]))
        assert parsed.ok and parsed.think == "" and parsed.value == reasoned.value
    with pytest.raises(ValueError, match="score_line=true"):
        SelectionConfig(score_line=True, reasoning=False)
