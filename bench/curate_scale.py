"""Curation at the paper's scale: a 100,000-row JudgeLM-format pool with given teacher outputs → 1K SFT rows.

Synthesizes (untimed) a JudgeLM-100K-style pool with exact and near duplicates and planted benchmark
prompts, two teacher samples per row (seeds 13 and 79) whose scores match the gold pair about 12% of
the time, with reasoning of 40-720 words and the token count the teacher recorded (`think_tokens`).
Then times the real stages: `curate` (read, size filter, exact + MinHash dedup, decontamination against
the JudgeLM and PandaLM minis, split) and `select` (filters, longest survivor, 500 pairwise + 500
single-score items with the paper's 750 / 375 token thresholds, 25% rescaled; single cuts counted with
the embedded default's tokenizer). Target: both together within 60 s on a 2-core laptop.

    .venv/bin/python bench/curate_scale.py               # 100,000 rows
    .venv/bin/python bench/curate_scale.py --rows 20000
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from flexjudge.backbones.recipes import embedded_default_manifest
from flexjudge.core.app import compose
from flexjudge.core.io import read_jsonl, write_json

REPO = Path(__file__).resolve().parents[1]
WORDS = [
    "the",
    "reply",
    "answers",
    "question",
    "clearly",
    "accurate",
    "helpful",
    "detail",
    "misses",
    "context",
    "safety",
    "claim",
    "source",
    "step",
    "example",
    "explains",
    "reasoning",
    "correct",
    "wrong",
    "partly",
    "fully",
    "user",
    "asked",
    "because",
    "however",
    "also",
    "tone",
    "concise",
    "verbose",
    "relevant",
    "irrelevant",
    "fact",
    "error",
    "harmless",
    "polite",
    "gives",
    "offers",
    "lacks",
    "covers",
    "point",
]


def sentences(rng: np.random.Generator, n_words: int) -> str:
    """n_words of filler prose in sentences of 8-16 words."""
    words = np.array(WORDS)[rng.integers(0, len(WORDS), n_words)]
    out, i = [], 0
    while i < n_words:
        k = int(rng.integers(8, 17))
        out.append(" ".join(words[i : i + k]).capitalize() + ".")
        i += k
    return " ".join(out)


def synthesize(folder: Path, rows: int, planted: list[str], seed: int = 0) -> tuple[Path, Path, int]:
    """pool.jsonl (JudgeLM schema) and samples.jsonl (teacher outputs) under folder; returns their
    paths and the number of planted benchmark prompts."""
    rng = np.random.default_rng(seed)
    pool, samples = [], []
    for i in range(rows):
        kind = rng.random()
        if kind < 0.02 and pool:  # an exact repeat of an earlier row, answers swapped
            src = pool[int(rng.integers(len(pool)))]
            row = {
                **src,
                "question_id": i,
                "answer1_body": src["answer2_body"],
                "answer2_body": src["answer1_body"],
            }
            row["score"] = src["score"][::-1]
        elif kind < 0.03 and pool:  # a near repeat: one answer gains a word
            src = pool[int(rng.integers(len(pool)))]
            row = {**src, "question_id": i, "answer2_body": src["answer2_body"] + " indeed"}
        else:
            row = {
                "question_id": i,
                "question_body": f"Question {i}: " + sentences(rng, int(rng.integers(10, 40))),
                "answer1_body": sentences(rng, int(rng.integers(20, 80))),
                "answer2_body": sentences(rng, int(rng.integers(20, 80))),
                "score": [int(rng.integers(1, 11)), int(rng.integers(1, 11))],
            }
        if i < len(planted):
            row["question_body"] = planted[i]
        row["text"] = f"{row['score'][0]} {row['score'][1]}\nGPT-4's review."
        pool.append(row)
        for s in (13, 79):
            scores = (
                row["score"] if rng.random() < 0.12 else [int(rng.integers(1, 11)), int(rng.integers(1, 11))]
            )
            a, b = int(rng.integers(20, 360)), int(rng.integers(20, 360))
            reasoning = f"Reply A {sentences(rng, a)} Reply B {sentences(rng, b)}"
            samples.append(
                {
                    "id": f"judgelm-{i}",
                    "seed": s,
                    "origin": "on_policy",
                    "text": f"<think>\n{reasoning}\n</think>\n<answer>{scores[0]}</answer><answer>{scores[1]}</answer>",
                    "think_tokens": round(1.3 * (a + b + 4)),  # what the teacher's engine would have counted
                }
            )
    pool_path, samples_path = folder / "judgelm_train_100k.jsonl", folder / "samples.jsonl"
    pool_path.write_text("".join(json.dumps(r) + "\n" for r in pool))
    samples_path.write_text("".join(json.dumps(r) + "\n" for r in samples))
    return pool_path, samples_path, min(len(planted), rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--target", type=int, default=1000)
    args = parser.parse_args()
    from flexjudge.curate import run as curate
    from flexjudge.minis import run as minis
    from flexjudge.select import run as select

    tokenizer = embedded_default_manifest(REPO)  # the demo teacher's tokenizer (provisions it on first use)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        common = [f"paths.results={root}", "logger=none", "progress=false"]
        minis(compose("minis", [*common, "family=text", f"out_dir={root / 'bench'}", "n_items=50"]))
        planted = [
            r["question_body"] for r in read_jsonl(root / "bench" / "JudgeLM-100K" / "judgelm_val_5k.jsonl")
        ][:10]
        started = time.perf_counter()
        pool_path, samples_path, n_planted = synthesize(root, args.rows, planted)
        made = time.perf_counter() - started
        size = (pool_path.stat().st_size + samples_path.stat().st_size) / 1e6
        print(
            f"synthesized {args.rows:,} rows + {2 * args.rows:,} teacher samples ({size:.0f} MB) in {made:.1f} s (untimed)"
        )

        t0 = time.perf_counter()
        manifest = curate(
            compose(
                "curate",
                [
                    *common,
                    f"pool.path={pool_path}",
                    "pool.format=judgelm",
                    "pool.on_bad_row=error",
                    f"paths.benchmarks={root / 'bench'}",
                    "decontaminate.benchmarks=[judgelm_val,pandalm]",
                    "max_chars=null",
                    "heldout_size=0",
                    "pool_size=null",
                ],
            )
        )
        t1 = time.perf_counter()
        # the sample stage's report, as it would be for these given outputs
        write_json(
            root / "sample" / "report.json", {"teacher": "given", "teacher_weights": None, "seeds": [13, 79]}
        )
        result = select(
            compose(
                "select",
                [
                    *common,
                    "name=bench",
                    f"samples={samples_path}",
                    f"sample_report={root / 'sample' / 'report.json'}",
                    f"tokenizer={tokenizer}",
                    f"target={args.target}",
                ],
            )
        )
        t2 = time.perf_counter()

    c, s = manifest["counts"], result["counts"]["select"]
    print(
        f"curate: {c['read']:,} read -> {c['after_exact_dedup']:,} after exact dedup -> "
        f"{c['after_near_dedup']:,} after near dedup -> {c['after_decontamination']:,} after decontamination "
        f"({manifest['decontamination']['removed']} of {n_planted} planted benchmark prompts removed) "
        f"in {t1 - t0:.1f} s"
    )
    print(
        f"select: {s['samples_on_policy']:,} samples, {s['agreeing_on_policy']:,} agree, "
        f"{s['prompts_with_survivor']:,} prompts survive; {s['pair_candidates']:,} pairwise and "
        f"{s['single_cuttable']:,} cuttable single candidates ({s['single_counted']:,} counted in tokens); "
        f"selected {s['selected_pair']} pairwise + {s['selected_single']} single ({s['rescaled']} rescaled) "
        f"in {t2 - t1:.1f} s"
    )
    total = t2 - t0
    print(
        f"total {total:.1f} s for {args.rows:,} rows = {args.rows / total:,.0f} rows/s "
        f"(target <= 60 s: {'met' if total <= 60 else 'MISSED'}, {total / 60:.2f}x of the budget)"
    )


if __name__ == "__main__":
    main()
