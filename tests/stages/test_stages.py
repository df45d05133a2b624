"""The stage entry points run on tiny models and small data (composed Hydra configs, real files)."""

import json

import pytest
import torch
from safetensors.torch import load_file

from conftest import make_sft, stage_cfg
from flexjudge.backbones.loader import load_judge, read_manifest
from flexjudge.core.io import read_jsonl
from flexjudge.data.pools import iter_pool, preference_of
from flexjudge.data.schemas import read_pair_items
from flexjudge.data.selection import teacher_scores
from flexjudge.training.sft import IGNORE, PadCollator, encode_chat


def test_curate_split_is_disjoint_and_deterministic(curated, tmp_path):
    pool, held = list(iter_pool(curated / "pool.jsonl")), read_pair_items(str(curated / "heldout.jsonl"))
    assert (len(pool), len(held)) == (12, 6)
    assert not {p.question for p in pool} & {h.question for h in held}
    assert {p.preferred for p in pool} == {"A", "B"}  # the chosen reply is placed by a seeded coin
    manifest = json.loads((curated / "manifest.json").read_text())
    assert manifest["counts"]["bad_rows"] == {"context_mismatch": 5, "empty_reply": 4}
    assert manifest["inputs"]["license"].startswith("MIT") and len(manifest["inputs"]["sha256"]) == 64
    from flexjudge.curate import run

    run(stage_cfg("curate", tmp_path, "pool_size=12", "heldout_size=6"))
    assert (tmp_path / "curate" / "pool.jsonl").read_bytes() == (curated / "pool.jsonl").read_bytes()
    run(stage_cfg("curate", tmp_path, "pool_size=12", "heldout_size=6", "seed=1"))
    assert (tmp_path / "curate" / "pool.jsonl").read_bytes() != (curated / "pool.jsonl").read_bytes()


def test_curate_refuses_impossible_sizes(tmp_path):
    from flexjudge.curate import run

    with pytest.raises(ValueError, match="could be held out"):
        run(stage_cfg("curate", tmp_path, "heldout_size=100000"))


def test_sample_and_select_with_flagged_rationales(tiny_manifest, curated, tmp_path):
    from flexjudge.sample import run

    overrides = ("max_new_tokens=12", "rationalize.max_new_tokens=10", "seeds=[13,79]")
    sft = make_sft(tmp_path, tiny_manifest, curated, 5, *overrides, single_share=0.4)
    out = tmp_path / "sample" / "tiny_vl"
    report = json.loads((out / "report.json").read_text())
    samples = read_jsonl(out / "samples.jsonl")
    assert report["samples_on_policy"] == 2 * 12  # two seeds per pool row
    # a random tiny model never writes the tags: every sample is counted as unparsed, none agrees
    assert report["samples_unparsed"] == 24 and report["rows_with_agreeing_sample"] == 0
    assert report["rationalized"] + report["rationales_empty"] == 12
    assert len(samples) == 24 + report["rationalized"]
    rows = read_jsonl(sft)
    pool = {r.id: r for r in iter_pool(curated / "pool.jsonl")}
    assert 0 < len(rows) <= 5
    for row in rows:
        assert row["origin"] == "rationalized"
        assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant"]
        assert "reviewer" not in row["messages"][1]["content"]  # the hint never reaches the SFT prompt
        scores, _, failure = teacher_scores(row["messages"][2]["content"])
        if row["kind"] == "pair" and not row["rescaled"]:  # closed with the preference as (8, 3)
            assert failure is None and preference_of(scores) == pool[row["pool_id"]].preferred
    manifest = json.loads((sft.parent / "manifest.json").read_text())
    assert (
        manifest["rows"] == len(rows) and manifest["teacher"] == "tiny_vl" and manifest["seeds"] == [13, 79]
    )
    # a rerun finds every sample in the engine's cache
    again = run(
        stage_cfg(
            "sample",
            tmp_path,
            "teacher=tiny_vl",
            f"judge={tiny_manifest}",
            f"pool={curated / 'pool.jsonl'}",
            *overrides,
        )
    )
    assert again["samples_from_cache"] == 24


def test_encode_chat_masks_the_prompt(tiny_manifest):
    tok = load_judge(tiny_manifest, device="cpu").tokenizer
    messages = [
        {"role": "system", "content": "judge"},
        {"role": "user", "content": "A or B?"},
        {"role": "assistant", "content": "<think>\nA.\n</think>\n<answer>A</answer>"},
    ]
    ex = encode_chat(tok, messages, max_length=512)
    n_prompt = sum(label == IGNORE for label in ex["labels"])
    prompt = tok.apply_chat_template(messages[:-1], tokenize=False, add_generation_prompt=True)
    assert n_prompt == len(tok(prompt, add_special_tokens=False)["input_ids"])
    target = tok.decode(
        [t for t, label in zip(ex["input_ids"], ex["labels"], strict=True) if label != IGNORE]
    )
    assert target.startswith("<think>\nA.") and "<answer>A</answer><|im_end|>" in target
    assert len(encode_chat(tok, messages, max_length=5)["input_ids"]) == 5
    with pytest.raises(ValueError, match="last message"):
        encode_chat(tok, messages[:-1], max_length=512)
    batch = PadCollator(tok.pad_token_id)([ex, encode_chat(tok, messages[:1] + messages[2:], 512)])
    assert batch["input_ids"].shape == batch["labels"].shape == batch["attention_mask"].shape
    assert (batch["labels"][batch["attention_mask"] == 0] == IGNORE).all()


def test_finetune_changes_only_the_llm(tiny_manifest, curated, tmp_path):
    from flexjudge.finetune import run as finetune

    sft = make_sft(tmp_path, tiny_manifest, curated, 6, "max_new_tokens=8", "rationalize.max_new_tokens=16")
    summary = finetune(
        stage_cfg(
            "finetune",
            tmp_path,
            "backbone=tiny_vl",
            f"base={tiny_manifest}",
            "trainer.epochs=1",
            "trainer.max_length=1024",
            "trainer.learning_rate=1e-2",
            "trainer.per_device_batch_size=2",
            "trainer.grad_accumulation=1",
        )
    )
    assert summary["steps"] == -(-len(read_jsonl(sft)) // 2) and summary["supervised_tokens"] > 0
    manifest = read_manifest(tmp_path / "finetune" / "tiny_vl" / "judge.json")
    assert manifest["variant"] == "flex" and manifest["sft_data_sha256"]
    assert manifest["sft_provenance"] == str(tmp_path / "select" / "tiny_vl" / "manifest.json")
    before = load_file(str(read_manifest(tiny_manifest)["weights"] + "/model.safetensors"))
    after = load_file(manifest["weights"] + "/model.safetensors")
    assert before.keys() == after.keys()
    # saved in the original Qwen2.5-VL layout: visual.* (tower + merger), model.layers.* (the LLM)
    visual = [k for k in before if k.startswith("visual.")]
    assert visual and all(torch.equal(before[k], after[k]) for k in visual)  # bit-identical
    llm = [k for k in before if k.startswith("model.layers.")]
    assert sum(not torch.equal(before[k], after[k]) for k in llm) > len(llm) // 2


def test_evaluate_counts_unparsed_outputs_as_wrong(tiny_manifest, curated, tmp_path):
    from flexjudge.evaluate import run

    record = run(
        stage_cfg(
            "evaluate",
            tmp_path,
            "backbone=tiny_vl",
            f"judge={tiny_manifest}",
            "voting=k3",
            f"benchmark.path={curated / 'heldout.jsonl'}",
            "max_new_tokens=6",
        )
    )
    out = tmp_path / "eval" / "tiny_vl" / "base" / "hh_harmless_heldout" / "k3" / "none"
    preds = read_jsonl(out / "predictions.jsonl")
    assert len(preds) == 6 and all(len(p["votes"]) == 3 and p["votes"][0]["text"] is not None for p in preds)
    m = record["metrics"]
    parsed_votes = sum(v["failure"] is None for p in preds for v in p["votes"])
    assert m["parse_failure_rate"] == 1 - parsed_votes / 18
    assert all((v["value"] is None) == (v["failure"] is not None) for p in preds for v in p["votes"])
    assert m["accuracy"] == sum(p["prediction"] == p["gold"] for p in preds) / 6
    assert json.loads((out / "metrics.json").read_text())["k"] == 3


def test_evaluate_with_the_simulated_judge_in_both_orders(curated, tmp_path):
    from flexjudge.evaluate import run

    record = run(
        stage_cfg(
            "evaluate",
            tmp_path,
            "backend=simulated",
            "backend.position_bias=1.0",
            "voting=k3",
            "benchmark.order=both",
            f"benchmark.path={curated / 'heldout.jsonl'}",
        )
    )
    m = record["metrics"]
    # always picking the first shown reply: right in the original order, wrong reversed, never consistent
    assert m["first_position_rate"] == 1.0 and m["consistency_rate"] == 0.0
    assert m["n_items"] == 6 and m["n_votes"] == 36 and record["backend"] == "simulated"


def test_evaluate_refuses_a_budget_that_leaves_no_room_to_answer(tiny_manifest, curated, tmp_path):
    from flexjudge.evaluate import run

    with pytest.raises(ValueError, match="max_think_tokens=90 leaves no room"):
        run(
            stage_cfg(
                "evaluate",
                tmp_path,
                "backbone=tiny_vl",
                f"judge={tiny_manifest}",
                f"benchmark.path={curated / 'heldout.jsonl'}",
                "budget=think64",
                "budget.max_think_tokens=90",
            )
        )


def test_evaluate_asks_an_answer_first_judge_for_the_answer_alone(tiny_manifest, curated, tmp_path):
    """reasoning=false (the answer-first judges of Fig. 5): the prompt asks for no reasoning, nothing opens
    <think>, and the votes are new ones (other prompts, other cache keys); reasoning=false with an explicit
    prefill_think=true is refused."""
    from flexjudge.evaluate import run
    from flexjudge.judge.runs import build_views, judge_protocol, load_items, vote_ask

    common = (
        "backbone=tiny_vl",
        f"judge={tiny_manifest}",
        f"benchmark.path={curated / 'heldout.jsonl'}",
        "max_new_tokens=6",
        f"cache={tmp_path / 'votes.sqlite'}",
    )
    asks = {}
    for reasoning in ("true", "false"):
        cfg = stage_cfg("evaluate", tmp_path / reasoning, *common, f"reasoning={reasoning}")
        views = build_views(load_items(cfg).items, cfg.benchmark.order, cfg.benchmark.seed)
        asks[reasoning] = vote_ask(cfg, judge_protocol(cfg.benchmark).fmt, views)
    assert asks["true"].prefill_think and not asks["false"].prefill_think
    assert "step by step" in asks["true"].messages[0][0]["content"]
    assert "Give no reasoning" in asks["false"].messages[0][0]["content"]
    assert [m[1] for m in asks["true"].messages] == [m[1] for m in asks["false"].messages]
    first = run(stage_cfg("evaluate", tmp_path / "a", *common))
    second = run(stage_cfg("evaluate", tmp_path / "b", *common, "reasoning=false"))
    assert first["votes"]["generated"] == second["votes"]["generated"] == 6  # no vote shared
    with pytest.raises(ValueError, match="reasoning=false asks the judge to answer at once"):
        run(stage_cfg("evaluate", tmp_path / "c", *common, "reasoning=false", "prefill_think=true"))


def test_evaluate_with_answer_forcing_records_the_deviation_and_what_it_changed(
    tiny_manifest, curated, tmp_path
):
    """budget=think64_tags: each request asks for its format's two tags, the run lists answer forcing among
    its protocol deviations, and metrics.json counts the votes it changed (as each vote records them)."""
    from flexjudge.evaluate import run
    from flexjudge.generate.budget import ANSWER_FORCING_DEVIATION as ANSWER_FORCING
    from flexjudge.judge.runs import build_views, judge_protocol, load_items, vote_ask

    common = ("backbone=tiny_vl", f"judge={tiny_manifest}", f"benchmark.path={curated / 'heldout.jsonl'}")
    cfg = stage_cfg("evaluate", tmp_path, *common, "budget=think64_tags", "max_new_tokens=96")
    views = build_views(load_items(cfg).items, cfg.benchmark.order, cfg.benchmark.seed)
    ask = vote_ask(cfg, judge_protocol(cfg.benchmark).fmt, views)
    assert ask.budget.answer_forcing and ask.answers == [2] * len(views)
    record = run(cfg)
    assert ANSWER_FORCING in record["protocol_deviations"]
    votes = [
        v
        for p in read_jsonl(
            tmp_path / "eval/tiny_vl/base/hh_harmless_heldout/k1/think64_tags/predictions.jsonl"
        )
        for v in p["votes"]
    ]
    changed = sum(bool(v["forced_answers"] or v["answer_cut"]) for v in votes) / len(votes)
    assert record["thinking"]["answer_forcing_rate"] == changed
    plain = run(stage_cfg("evaluate", tmp_path, *common, "budget=think64", "max_new_tokens=96"))
    assert ANSWER_FORCING not in plain["protocol_deviations"]
    assert plain["thinking"]["answer_forcing_rate"] == 0.0


def test_image_text_pool_trains_a_judge_through_the_same_stages(tiny_manifest, tmp_path):
    """The image-text ablation (the paper's Table 5): RLHF-V rows (the mini, in the release's parquet) are
    curated with their images written beside the pool, the teacher judges each pair with its image, select
    keeps the image in every SFT row, and finetune trains on them through the media packer."""
    import numpy as np

    from flexjudge.benchmarks.synthetic.rlhfv import build_rlhfv
    from flexjudge.curate import run as curate
    from flexjudge.finetune import run as finetune

    build_rlhfv(tmp_path / "minis", 10, np.random.default_rng(0))
    manifest = curate(
        stage_cfg(
            "curate",
            tmp_path,
            "pool.format=rlhfv",
            f"pool.path={tmp_path / 'minis' / 'RLHF-V' / 'RLHF-V-Dataset.parquet'}",
            "pool.license=synthetic",
            "heldout_size=0",
            "pool_size=8",
            "dedup.near_threshold=null",
            "decontaminate.enabled=false",
        )
    )
    assert manifest["counts"]["pool"] == 8 and manifest["inputs"]["format"] == "rlhfv"
    pool = read_jsonl(tmp_path / "curate" / "pool.jsonl")
    assert all(len(r["media"]) == 1 and (tmp_path / "curate" / r["media"][0]["path"]).is_file() for r in pool)
    sft = make_sft(
        tmp_path, tiny_manifest, tmp_path / "curate", 4, "max_new_tokens=8", "rationalize.max_new_tokens=8"
    )
    rows = read_jsonl(sft)
    assert rows and all(r["media"][0]["kind"] == "image" for r in rows)
    for r in rows:  # the image part is in the prompt, and its file is the pool row's
        user = r["messages"][1]["content"]
        assert isinstance(user, list) and user[0]["type"] == "image"
        assert r["media"][0]["path"] == next(p for p in pool if p["id"] == r["pool_id"])["media"][0]["path"]
    summary = finetune(
        stage_cfg(
            "finetune",
            tmp_path,
            "backbone=tiny_vl",
            f"base={tiny_manifest}",
            f"media_root={tmp_path / 'curate'}",
            "trainer.epochs=1",
            "trainer.max_length=1024",
            "trainer.per_device_batch_size=2",
            "trainer.grad_accumulation=1",
        )
    )
    assert summary["examples_with_media"] == len(rows) and summary["media_examples_over_max_length"] == 0
