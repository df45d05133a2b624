"""The teacher's samples for the SFT set: every pool row scored in the paper's pair-score format, once per
seed, and, where no seed agrees with the gold, a rationale: the gold scores (or, for a pool without scores,
hint scores) shown as a hint, the teacher's reasoning kept and closed with those scores."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from flexjudge.backbones.inputs import MediaSettings
from flexjudge.core.app import to_plain
from flexjudge.core.io import stable_hash
from flexjudge.data.pools import PoolRow
from flexjudge.data.selection import SCALE_10, agrees, teacher_scores
from flexjudge.generate.budget import Budget
from flexjudge.generate.engine import SamplingParams
from flexjudge.generate.session import JudgeSession
from flexjudge.protocol.formats import PairScores
from flexjudge.protocol.prompts import (
    SCORE_HINT,
    THINK_CLOSE,
    THINK_PREFILL,
    generated_with_prefill,
    judge_completion,
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


def rationalize(
    session: JudgeSession, cfg: DictConfig, hinted, count: Counter, media=None
) -> list[tuple[str, int]]:
    """The teacher's reasoning for each hinted chat, and its token count. `rationalize.structured` writes
    it in two parts the select stage can cut apart: the teacher continues "Reply A:" for half the tokens
    (its first paragraph is kept), then "Reply B:" for the rest; otherwise one pass up to the closing tag."""
    r = cfg.rationalize

    def generate(prefixes, max_new_tokens, paragraph, desc):
        params = _params(cfg, cfg.seed, max_new_tokens, r.temperature, stop_strings=(THINK_CLOSE,))
        gens, _, _ = session.votes(
            hinted,
            params,
            media=media,
            media_settings=MediaSettings() if media else None,
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


@dataclass
class Samples:
    """What a teacher pass produced: one record per sample, the counts, the rows with an agreeing sample."""

    records: list[dict[str, Any]] = field(default_factory=list)
    count: Counter = field(default_factory=Counter)
    agreeing: set[str] = field(default_factory=set)
    manifest: dict[str, Any] | None = None  # the teacher's judge manifest


def sample_teacher(cfg: DictConfig, rows: list[PoolRow]) -> Samples:
    """Score every row once per seed with the teacher (loaded once), then rationalize where enabled."""
    if not cfg.seeds:
        raise ValueError("sample.seeds is empty: give at least one seed (the paper: [13, 79])")
    fmt = PairScores(SCALE_10)
    root = Path(cfg.pool).parent  # a row's media paths are relative to its pool file's folder
    parts = [r.media_parts(root) for r in rows]
    media = parts if any(parts) else None  # a text pool asks exactly as before (same cache keys)
    messages = [fmt.messages(r.question, list(r.answers), media=m) for r, m in zip(rows, parts, strict=True)]
    session = JudgeSession(cfg.judge, cfg.backend)  # the teacher is loaded once for every pass
    budget = Budget.from_conf(cfg.budget)
    budget.check(cfg.max_new_tokens, f"conf/budget/{cfg.budget.name}.yaml with sample.max_new_tokens")
    out = Samples()
    for seed in cfg.seeds:
        gens, out.manifest, votes = session.votes(
            messages,
            _params(cfg, seed, cfg.max_new_tokens, cfg.temperature),
            media=media,
            media_settings=MediaSettings() if media else None,  # the benchmarks' default sizes
            budget=budget,
            prefill_think=cfg.prefill_think,
            answers=[fmt.answer_tags(len(r.answers)) for r in rows],  # what answer forcing would hold
            cache=cfg.cache,
            desc=f"teacher seed={seed}",
            progress=cfg.progress,
        )
        out.count["cached"] += votes.cached
        for row, (gen,) in zip(rows, gens, strict=True):
            text = generated_with_prefill(gen.text, cfg.prefill_think)
            scores, _, failure = teacher_scores(text)
            ok = scores is not None and agrees(row, scores)
            out.count["unparsed" if failure else "agreeing" if ok else "disagreeing"] += 1
            if ok:
                out.agreeing.add(row.id)
            out.records.append(
                {
                    "id": row.id,
                    "seed": seed,
                    "origin": "on_policy",
                    "text": text,
                    "n_tokens": gen.n_tokens,
                    "think_tokens": gen.think_tokens,  # reasoning length as the teacher counted it
                }
            )
    rest = [r for r in rows if r.id not in out.agreeing]
    if cfg.rationalize.enabled and rest:
        preference = hint_pairs(to_plain(cfg.rationalize.preference_scores))
        golds = [hint_scores(r, preference) for r in rest]
        rest_media = [r.media_parts(root) for r in rest]
        hinted = [
            fmt.messages(
                r.question, list(r.answers), media=m, hint=SCORE_HINT.format(a=f"{g[0]:g}", b=f"{g[1]:g}")
            )
            for r, g, m in zip(rest, golds, rest_media, strict=True)
        ]
        rationales = rationalize(session, cfg, hinted, out.count, rest_media if media else None)
        for row, gold, (reasoning, n_tokens) in zip(rest, golds, rationales, strict=True):
            if not reasoning:
                out.count["rationales_empty"] += 1
                continue
            text = THINK_PREFILL + judge_completion(reasoning, [SCALE_10.format(s) for s in gold])
            out.records.append(  # its reasoning is counted by select (a trimmed rationale is shorter)
                {"id": row.id, "seed": cfg.seed, "origin": "rationalized", "text": text, "n_tokens": n_tokens}
            )
            out.count["rationalized"] += 1
    return out
