"""Stage `sample`: a teacher scores both answers of every pool row, at low temperature, once per seed.

The teacher (by default the backbone itself: on-policy) answers in the pair-score format the paper's
teacher uses, '<think>…</think><answer>s1</answer><answer>s2</answer>' on 1–10, with generation started
inside <think>. Votes go through the generation engine and its per-vote cache, so a rerun or a resumed
run generates only what is missing. Rows where no seed agrees with the gold can be rationalized: the
gold scores (or, for a pool without scores, `preference_scores`) are shown as a hint, the teacher's
reasoning is kept and closed with those scores (origin `rationalized`). The select stage filters.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from flexjudge.core.app import seed_everything, setup_torch, stage_main, to_plain
from flexjudge.core.io import stable_hash, write_json, write_jsonl
from flexjudge.core.tracking import start_tracking
from flexjudge.data.pools import PoolRow, iter_pool
from flexjudge.data.selection import SCALE_10, agrees, teacher_scores
from flexjudge.generate.budget import Budget
from flexjudge.generate.engine import SamplingParams
from flexjudge.generate.session import JudgeSession
from flexjudge.protocol.formats import PairScores
from flexjudge.protocol.prompts import THINK_CLOSE, THINK_PREFILL, generated_with_prefill, judge_completion

log = logging.getLogger(__name__)

HINT = (
    "A careful reviewer has already scored the replies: A {a}, B {b}. Explain step by step what makes "
    "these scores right, reply A first, without mentioning the reviewer."
)


#: How a structured rationale starts its two parts (reply A's, then reply B's).
STRUCTURE = ("Reply A:", "Reply B:")


def trim_to_sentence(text: str) -> str:
    """Cut text after its last sentence end (. ! ? or line break); unchanged if it has none."""
    cut = max(text.rfind(c) for c in (".", "!", "?", "\n"))
    return text[: cut + 1].strip() if cut >= 0 else text


def hint_pairs(preference_scores) -> list[tuple[float, float]]:
    """`rationalize.preference_scores` as a list of (preferred, other) pairs: one pair, or a list of them;
    a ValueError names a pair whose preferred score is not the higher."""
    nested = all(isinstance(p, (list, tuple)) for p in preference_scores)
    pairs = [tuple(p) for p in preference_scores] if nested else [tuple(preference_scores)]
    for high, low in pairs:
        if not high > low:
            raise ValueError(
                f"rationalize.preference_scores: {[high, low]} must be (preferred, other) with preferred higher"
            )
    return pairs


def hint_scores(row: PoolRow, pairs: list[tuple[float, float]]) -> tuple[float, float]:
    """The scores a rationale is closed with: the gold pair, else the preference as (high, low), from the
    pair of `pairs` (`hint_pairs`) that a stable hash of the row's id picks (so the SFT answers are not all
    the same two numbers)."""
    if row.scores:
        return row.scores
    high, low = pairs[int(stable_hash("hint", row.id), 16) % len(pairs)]
    return {"A": (high, low), "B": (low, high), "tie": (high, high)}[row.preferred]


def _params(cfg: DictConfig, seed: int, max_new_tokens: int, temperature: float, **kw) -> SamplingParams:
    return SamplingParams(
        max_new_tokens=max_new_tokens, temperature=temperature, top_p=cfg.top_p, n=1, seed=seed, **kw
    )


def rationalize(session: JudgeSession, cfg: DictConfig, hinted, count: Counter) -> list[tuple[str, int]]:
    """The teacher's reasoning for each hinted chat, and its token count. `rationalize.structured` writes
    it in two parts the select stage can cut apart: the teacher continues "Reply A:" for half the tokens
    (its first paragraph is kept), then "Reply B:" for the rest; otherwise one pass up to the closing tag."""
    r = cfg.rationalize

    def generate(prefixes, max_new_tokens, paragraph, desc):
        params = _params(cfg, cfg.seed, max_new_tokens, r.temperature, stop_strings=(THINK_CLOSE,))
        gens, _, _ = session.votes(
            hinted,
            params,
            prefill_think=True,
            cache=cfg.cache,
            desc=desc,
            progress=cfg.progress,
            prefixes=prefixes,
        )
        parts = []
        for (gen,) in gens:
            text, ended = gen.text.split(THINK_CLOSE)[0].strip(), gen.finished
            if paragraph and "\n\n" in text:  # a part is one paragraph (a blank line first is skipped)
                text, ended = text.split("\n\n")[0].strip(), True
            if not ended:  # ran out of tokens mid-thought: end at the last full sentence
                text = trim_to_sentence(text)
                count["rationales_trimmed"] += 1
            parts.append((text, gen.n_tokens))
        return parts

    if not r.structured:
        return generate(None, r.max_new_tokens, False, "rationalize")
    half = max(1, r.max_new_tokens // 2)
    first = generate([STRUCTURE[0]] * len(hinted), half, True, "rationalize A")
    heads = [f"{STRUCTURE[0]} {text}" if text else "" for text, _ in first]
    second = generate([f"{head}\n\n{STRUCTURE[1]}" for head in heads], half, True, "rationalize B")
    return [
        (f"{head}\n\n{STRUCTURE[1]} {tail}" if head and tail else "", n1 + n2)
        for head, (_, n1), (tail, n2) in zip(heads, first, second, strict=True)
    ]


def run(cfg: DictConfig) -> dict[str, Any]:
    """Sample every pool row once per seed, rationalize where enabled; write samples.jsonl and report.json."""
    seed_everything(cfg.seed)
    setup_torch(cfg.threads)
    out = Path(cfg.out_dir)
    started = time.time()
    fmt = PairScores(SCALE_10)
    with start_tracking(
        cfg.logger, stage="sample", name=f"sample-{cfg.teacher}", config=to_plain(cfg)
    ) as tracker:
        if not cfg.seeds:
            raise ValueError("sample.seeds is empty: give at least one seed (the paper: [13, 79])")
        rows = list(iter_pool(cfg.pool))[: cfg.limit]
        messages = [fmt.messages(r.question, list(r.answers)) for r in rows]
        session = JudgeSession(cfg.judge, cfg.backend)  # the teacher is loaded once for every pass
        budget = Budget.from_conf(cfg.budget)
        budget.check(cfg.max_new_tokens, f"conf/budget/{cfg.budget.name}.yaml with sample.max_new_tokens")
        records, count = [], Counter()
        agreeing: set[str] = set()
        for seed in cfg.seeds:
            gens, manifest, votes = session.votes(
                messages,
                _params(cfg, seed, cfg.max_new_tokens, cfg.temperature),
                budget=budget,
                prefill_think=cfg.prefill_think,
                cache=cfg.cache,
                desc=f"teacher seed={seed}",
                progress=cfg.progress,
            )
            count["cached"] += votes.cached
            for row, (gen,) in zip(rows, gens, strict=True):
                text = generated_with_prefill(gen.text, cfg.prefill_think)
                scores, _, failure = teacher_scores(text)
                ok = scores is not None and agrees(row, scores)
                count["unparsed" if failure else "agreeing" if ok else "disagreeing"] += 1
                if ok:
                    agreeing.add(row.id)
                records.append(
                    {
                        "id": row.id,
                        "seed": seed,
                        "origin": "on_policy",
                        "text": text,
                        "n_tokens": gen.n_tokens,
                        "think_tokens": gen.think_tokens,  # reasoning length as the teacher counted it
                    }
                )
        rest = [r for r in rows if r.id not in agreeing]
        if cfg.rationalize.enabled and rest:
            preference = hint_pairs(to_plain(cfg.rationalize.preference_scores))
            golds = [hint_scores(r, preference) for r in rest]
            hinted = [
                fmt.messages(r.question, list(r.answers), hint=HINT.format(a=f"{g[0]:g}", b=f"{g[1]:g}"))
                for r, g in zip(rest, golds, strict=True)
            ]
            rationales = rationalize(session, cfg, hinted, count)
            for row, gold, (reasoning, n_tokens) in zip(rest, golds, rationales, strict=True):
                if not reasoning:
                    count["rationales_empty"] += 1
                    continue
                text = THINK_PREFILL + judge_completion(reasoning, [SCALE_10.format(s) for s in gold])
                records.append(  # its reasoning is counted by select (a trimmed rationale is shorter)
                    {
                        "id": row.id,
                        "seed": cfg.seed,
                        "origin": "rationalized",
                        "text": text,
                        "n_tokens": n_tokens,
                    }
                )
                count["rationalized"] += 1
        write_jsonl(out / "samples.jsonl", records)
        report = {
            "teacher": cfg.teacher,
            "teacher_weights": str(manifest["weights"]) if rows else None,
            "seeds": list(cfg.seeds),
            "temperature": cfg.temperature,
            "top_p": cfg.top_p,
            "max_new_tokens": cfg.max_new_tokens,
            "budget": cfg.budget.name,
            "pool_rows": len(rows),
            "samples_on_policy": len(rows) * len(cfg.seeds),
            "samples_agreeing": count["agreeing"],
            "samples_disagreeing": count["disagreeing"],
            "samples_unparsed": count["unparsed"],
            "samples_from_cache": count["cached"],
            "rows_with_agreeing_sample": len(agreeing),
            "rationalized": count["rationalized"],
            "rationales_empty": count["rationales_empty"],
            "rationales_trimmed": count["rationales_trimmed"],
            "seconds": round(time.time() - started, 1),
        }
        write_json(out / "report.json", report)
        tracker.summary({k: v for k, v in report.items() if isinstance(v, int | float)})
    log.info("sample: %s", report)
    return report


main = stage_main("sample")(run)

if __name__ == "__main__":
    main()
