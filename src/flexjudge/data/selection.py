"""From teacher samples to the SFT set, as the paper selects its ~1K rationales.

1. A sample survives when its parsed scores equal the gold pair (a pool with scores) or, for a pool
   with only a preferred answer, when its scores prefer the same answer (equal scores = tie).
2. Per prompt the longest surviving reasoning is kept (on-policy samples before rationalized ones).
   Lengths are the teacher's reasoning tokens as counted at sampling (`think_tokens`), else counted
   here with its tokenizer.
3. Format mix: the longest `target - n_single` pairwise items whose reasoning has at least
   `min_pair_tokens` tokens, and from the other prompts the longest `n_single` single-score items cut
   from pairwise samples: the reasoning up to the first sentence about reply B, with reply A's score,
   when that part has at least `min_single_tokens` tokens (cuts ranked by characters, then counted in
   tokens in that order until enough are long enough).
4. A seeded `rescale_share` of the selected items is moved from the 1–10 scale to 0.5–5 (score / 2).
5. Off by default, and a deviation from the paper's two formats wherever it is on: `batch_share` of the
   items become batch-ranking items. From prompts not used above, a pairwise sample keeps its replies as
   A and B with their scores and gets 1 to `batch_size` - 2 more replies (a seeded count) taken from
   other conversations, labelled C, D, ... and given distinct scores drawn at random below both (seeded), so
   no two scores are equal, as the batch prompt asks, and no fixed run of low scores ends every item; the
   reasoning is the sample's own plus one fixed sentence per borrowed reply (`BORROWED_REPLY`).
6. Off by default, and a deviation wherever it is on: `score_line` ends every item's reasoning with one line
   that names each reply's score by its label ("Scores: A 8, B 3, C 1."), so the answer tags that follow
   copy a list whose length the labels fix, instead of a count the judge must keep in mind.
7. `reasoning: false` (the paper's answer-first ablation, Fig. 5 left): the same items, each target the
   answer tags alone (no <think> section) under the answer-first system prompt (`formats.answer_only`).
Every step's count is returned for the provenance manifest.
"""

from __future__ import annotations

import math
import random
import re
import statistics
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flexjudge.data.pools import PoolRow, preference_of
from flexjudge.protocol.formats import BatchRanking, PairScores, ScoreScale, SingleScore, answer_only
from flexjudge.protocol.parsing import parse_answers
from flexjudge.protocol.prompts import THINK_PREFILL, answer_letters, answer_tags, judge_completion

SCALE_10 = ScoreScale(1, 10)
SCALE_5 = ScoreScale(0.5, 5.0, decimals=1)  # 1–10 scores halved, as the paper's rescaled items
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_ABOUT_B = re.compile(
    r"\b(?:[Rr]eply|[Rr]esponse|[Aa]nswer) B\b|\bB's\b|\b[Aa]ssistant 2\b|\bsecond (?:reply|response|answer)\b"
)


@dataclass(frozen=True)
class SelectionConfig:
    """Targets and thresholds of the selection (conf/select.yaml)."""

    target: int = 1000
    single_share: float = 0.5
    min_pair_tokens: int = 750
    min_single_tokens: int = 375
    rescale_share: float = 0.0
    use_rationalized: bool = True
    seed: int = 0
    batch_share: float = 0.0  # a deviation from the paper's mix when > 0 (see the module docstring)
    batch_size: int = 3  # the most replies of a batch item (each has 3 to batch_size)
    score_line: bool = False  # a deviation when on: a closing "Scores: ..." line (module docstring)
    reasoning: bool = True  # False: answer-first targets, the answer tags alone (module docstring, 7)

    def __post_init__(self) -> None:
        if self.score_line and not self.reasoning:
            raise ValueError("select.score_line=true ends a reasoning, but reasoning=false writes none")
        if self.batch_size < 3:
            raise ValueError(f"select.batch_size={self.batch_size} must be at least 3 (2 is a pair)")
        if self.single_share + self.batch_share > 1.0:
            raise ValueError(
                f"select.single_share={self.single_share} + batch_share={self.batch_share} exceed 1"
            )
        for name in ("single_share", "rescale_share", "batch_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"select.{name}={getattr(self, name)} must lie in [0, 1]")
        if self.target < 1:
            raise ValueError(f"select.target={self.target} must be at least 1")


@dataclass(frozen=True)
class Survivor:
    """A sample that agrees with the gold: its reasoning, scores and token counts."""

    id: str
    seed: int
    origin: str  # on_policy | rationalized
    reasoning: str
    scores: tuple[float, float]
    tokens: int


def teacher_scores(text: str) -> tuple[tuple[float, float] | None, str | None, str | None]:
    """(scores, reasoning, failure) of a teacher output '<think>…</think><answer>s1</answer><answer>s2</answer>'."""
    parsed = parse_answers(text, 2, SCALE_10.parse)
    if not parsed.ok:
        return None, parsed.think, parsed.failure.value if parsed.failure else "unparsed"
    return tuple(parsed.value), parsed.think, None  # type: ignore[return-value]


def agrees(row: PoolRow, scores: tuple[float, float]) -> bool:
    """The gold pair exactly where the pool has scores; else the same preferred answer."""
    return tuple(scores) == tuple(row.scores) if row.scores else preference_of(scores) == row.preferred


def cut_single(reasoning: str) -> str | None:
    """The reasoning before the first sentence about reply B (None when nothing comes before it, or
    when B is never mentioned apart: the sample cannot be cut into a single-answer judgement)."""
    text = reasoning.strip()
    about_b = _ABOUT_B.search(text)
    if about_b is None:
        return None
    head = text[: about_b.start()]
    stripped = head.rstrip()
    if stripped and (stripped[-1] in ".!?" or "\n" in head[len(stripped) :]):
        return stripped  # the sentence about B starts right after a boundary (the usual case)
    boundaries = list(_SENTENCE.finditer(stripped))  # B is named mid-sentence: cut before that sentence
    return (text[: boundaries[-1].start()].strip() or None) if boundaries else None


def pair_row(row: PoolRow, s: Survivor, scale: ScoreScale, with_line: bool = False) -> dict[str, Any]:
    """A pairwise SFT row: both answers shown, the survivor's reasoning and both scores on `scale`."""
    fmt = PairScores(scale)
    scores = [scale.format(v if scale is SCALE_10 else v / 2) for v in s.scores]
    messages = fmt.messages(row.question, list(row.answers), media=row.media)
    return _sft_row(row, s, "pair", messages, s.reasoning, scores, scale, with_line)


def single_row(
    row: PoolRow, s: Survivor, cut: str, scale: ScoreScale, with_line: bool = False
) -> dict[str, Any]:
    """A single-score SFT row: answer A alone, the reasoning cut before reply B, A's score on `scale`."""
    fmt = SingleScore(scale)
    score = s.scores[0] if scale is SCALE_10 else s.scores[0] / 2
    messages = fmt.messages(row.question, [row.answers[0]], media=row.media)
    return _sft_row(row, s, "single", messages, cut, [scale.format(score)], scale, with_line)


#: The reasoning a batch item adds for each reply borrowed from another conversation (written by us, not
#: the teacher: batch items are a documented deviation).
BORROWED_REPLY = "It answers a different conversation, so it ranks last."


def batch_row(
    row: PoolRow,
    s: Survivor,
    extra: Sequence[str],
    low: Sequence[int],
    scale: ScoreScale,
    with_line: bool = False,
) -> dict[str, Any]:
    """A batch-ranking SFT row: the pair as A and B with the survivor's scores, then `extra` replies from
    other conversations as C, D, ... with the scores `low` (1-10 scale, distinct, below both; halved on the
    0.5-5 scale). The reasoning is the survivor's, then one paragraph per borrowed reply, so there is a
    paragraph for every answer."""
    if len(low) != len(extra) or len(set(low)) != len(low) or max(low, default=0) >= min(s.scores):
        raise ValueError(
            f"{s.id}: borrowed replies need distinct scores below the pair's {s.scores}, got {low}"
        )
    ten = [*s.scores, *low]
    scores = [v if scale is SCALE_10 else v / 2 for v in ten]
    messages = BatchRanking(scale).messages(row.question, [*row.answers, *extra], media=row.media)
    letters = answer_letters(2 + len(extra))[2:]
    reasoning = s.reasoning.strip() + "".join(f"\n\nReply {x}: {BORROWED_REPLY}" for x in letters)
    return _sft_row(row, s, "batch", messages, reasoning, [scale.format(v) for v in scores], scale, with_line)


def score_line(answers: Sequence[str]) -> str:
    """The line `score_line` adds at the end of a reasoning: each reply's label and score, in order."""
    named = ", ".join(f"{x} {a}" for x, a in zip(answer_letters(len(answers)), answers, strict=True))
    return f"Score{'s' if len(answers) > 1 else ''}: {named}."


def _sft_row(row, s: Survivor, kind, messages, reasoning, answers, scale, with_line=False) -> dict[str, Any]:
    """The chat row finetune reads, with what select knows about it."""
    if with_line:
        reasoning = f"{reasoning.rstrip()}\n\n{score_line(answers)}"
    assistant = THINK_PREFILL + judge_completion(reasoning, answers)
    media = {"media": [{"kind": m["type"], "path": m["path"]} for m in row.media]} if row.media else {}
    return {
        **media,  # an image-text row: its image, relative to the pool's folder (finetune's media_root)
        "id": f"{row.id}/{kind}",
        "pool_id": row.id,
        "kind": kind,
        "scale": [scale.low, scale.high],
        "rescaled": scale is SCALE_5,
        "origin": s.origin,
        "seed": s.seed,
        "messages": [*messages, {"role": "assistant", "content": assistant}],
        "scores": answers,
        "source": row.source,
    }


def answer_first_row(row: dict[str, Any]) -> dict[str, Any]:
    """The answer-first version of an SFT row: the answer-first system prompt, and the answer tags alone as
    the target (the reasoning dropped)."""
    system, *turns, assistant = row["messages"]
    if system["role"] != "system" or assistant["role"] != "assistant":
        raise ValueError(f"{row['id']}: an SFT row is system, user..., assistant")
    messages = [{**system, "content": answer_only(system["content"])}, *turns]
    return {**row, "messages": [*messages, {"role": "assistant", "content": answer_tags(row["scores"])}]}


def survivors(
    pool: Mapping[str, PoolRow], samples: Sequence[Mapping[str, Any]], count: Counter
) -> dict[str, list[Survivor]]:
    """Agreeing samples per prompt; counts samples, parse failures and disagreements in `count`."""
    found: dict[str, list[Survivor]] = {}
    for sample in samples:
        row = pool.get(sample["id"])
        if row is None:  # e.g. outputs given for a whole raw pool, of rows curate removed
            count["samples_not_in_pool"] += 1
            continue
        origin = sample.get("origin", "on_policy")
        count[f"samples_{origin}"] += 1
        scores, reasoning, failure = teacher_scores(sample["text"])
        if failure:
            count[f"unparsed_{failure}"] += 1
            continue
        if not agrees(row, scores) or not reasoning:
            count["disagreeing"] += 1
            continue
        count[f"agreeing_{origin}"] += 1
        tokens = sample.get("think_tokens")
        survivor = Survivor(row.id, int(sample["seed"]), origin, reasoning, scores, tokens if tokens else -1)
        found.setdefault(row.id, []).append(survivor)
    if samples and count["samples_not_in_pool"] == len(samples):
        raise ValueError(
            f"none of the {len(samples)} samples is of a pool row (e.g. {samples[0]['id']!r}): "
            "the samples were made from another pool"
        )
    return found


def select(
    pool: Mapping[str, PoolRow],
    samples: Sequence[Mapping[str, Any]],
    cfg: SelectionConfig,
    count_tokens: Callable[[list[str]], list[int]],
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The SFT rows and the count after every step (see the module docstring)."""
    count: Counter = Counter(pool_rows=len(pool))
    by_prompt = survivors(pool, samples, count)
    if not cfg.use_rationalized:
        by_prompt = {k: [s for s in v if s.origin == "on_policy"] for k, v in by_prompt.items()}
        by_prompt = {k: v for k, v in by_prompt.items() if v}
    flat = [s for v in by_prompt.values() for s in v]
    unknown = [i for i, s in enumerate(flat) if s.tokens < 0]  # no count recorded at sampling: count here
    for i, n in zip(unknown, count_tokens([flat[i].reasoning for i in unknown]), strict=True):
        flat[i] = Survivor(flat[i].id, flat[i].seed, flat[i].origin, flat[i].reasoning, flat[i].scores, n)
    best: dict[str, Survivor] = {}
    for s in flat:  # on-policy first, then the longest, then the lower seed
        key = (s.origin != "on_policy", -s.tokens, s.seed)
        if s.id not in best or key < (best[s.id].origin != "on_policy", -best[s.id].tokens, best[s.id].seed):
            best[s.id] = s
    count["prompts_with_survivor"] = len(best)
    count["prompts_rationalized"] = sum(s.origin != "on_policy" for s in best.values())

    rank = lambda s, n: (s.origin != "on_policy", -n, s.id)  # noqa: E731
    n_single = round(cfg.target * cfg.single_share)
    n_batch = round(cfg.target * cfg.batch_share)
    n_pair = cfg.target - n_single - n_batch
    pair_candidates = sorted(
        (s for s in best.values() if s.tokens >= cfg.min_pair_tokens), key=lambda s: rank(s, s.tokens)
    )
    count["pair_candidates"] = len(pair_candidates)
    pairs = pair_candidates[:n_pair]
    taken = {s.id for s in pairs}
    cuts = {s.id: cut_single(s.reasoning) for s in best.values() if s.id not in taken}
    count["single_uncuttable"] = sum(c is None for c in cuts.values())
    # longest cuts first (by characters); each is counted in tokens only until n_single are long enough
    ranked = sorted(
        (best[i] for i, c in cuts.items() if c is not None), key=lambda s: rank(s, len(cuts[s.id]))
    )
    singles: list[Survivor] = []
    cut_tokens: dict[str, int] = {}
    chunk = max(256, 2 * n_single)
    for start in range(0, len(ranked), chunk):
        if len(singles) >= n_single:
            break
        batch = ranked[start : start + chunk]
        cut_tokens.update(zip((s.id for s in batch), count_tokens([cuts[s.id] for s in batch]), strict=True))
        for s in batch:
            if len(singles) < n_single and cut_tokens[s.id] >= cfg.min_single_tokens:
                singles.append(s)
    count["single_cuttable"] = len(ranked)
    count["single_counted"] = len(cut_tokens)
    count["single_too_short"] = sum(n < cfg.min_single_tokens for n in cut_tokens.values())

    batches, extras = _batch_items(pool, best, {s.id for s in (*pairs, *singles)}, n_batch, cfg, rank, count)
    chosen = [("pair", s) for s in pairs] + [("single", s) for s in singles] + [("batch", s) for s in batches]
    order = sorted(f"{s.id}/{kind}" for kind, s in chosen)
    random.Random(cfg.seed).shuffle(order)
    rescaled = set(order[: round(cfg.rescale_share * len(order))])
    rows = []
    for kind, s in chosen:
        scale = SCALE_5 if f"{s.id}/{kind}" in rescaled else SCALE_10
        row = pool[s.id]
        if kind == "pair":
            rows.append(pair_row(row, s, scale, cfg.score_line))
        elif kind == "single":
            rows.append(single_row(row, s, cuts[s.id] or "", scale, cfg.score_line))
        else:
            extra, low = extras[s.id]
            rows.append(batch_row(row, s, extra, low, scale, cfg.score_line))
    if not cfg.reasoning:
        rows = [answer_first_row(r) for r in rows]
    count.update(
        selected_pair=len(pairs),
        selected_single=len(singles),
        selected_batch=len(batches),
        shortfall_batch=n_batch - len(batches),
        rescaled=len(rescaled),
        shortfall_pair=n_pair - len(pairs),
        shortfall_single=n_single - len(singles),
        rows=len(rows),
    )
    lengths = {
        "pair_reasoning_tokens": _stats([s.tokens for s in pairs]),
        "single_reasoning_tokens": _stats([cut_tokens[s.id] for s in singles]),
    }
    return rows, {"counts": dict(count), "lengths": lengths}


def _batch_items(pool, best, taken: set[str], n_batch: int, cfg: SelectionConfig, rank, count: Counter):
    """The survivors made into batch items and, for each, its replies from other conversations and their
    scores (distinct, drawn below the pair's lower score)."""
    if n_batch == 0:
        return [], {}
    rng = random.Random(f"batch-{cfg.seed}")
    candidates = sorted((s for s in best.values() if s.id not in taken), key=lambda s: rank(s, s.tokens))
    others = sorted(pool)
    picked, extras = [], {}
    for s in candidates:
        if len(picked) == n_batch:
            break
        size = rng.randint(3, cfg.batch_size)  # 3 to batch_size replies, as batch benchmarks vary
        room = math.ceil(min(s.scores)) - 1  # distinct whole scores 1, 2, ... below the pair
        if s.scores[0] == s.scores[1] or room < size - 2:
            count["batch_unusable"] += 1
            continue
        donors = [i for i in rng.sample(others, min(len(others), 4 * cfg.batch_size)) if i != s.id]
        extra = [pool[i].answers[rng.randrange(2)] for i in donors[: size - 2]]
        if len(extra) < size - 2:
            break  # the pool is too small to lend replies
        picked.append(s)
        extras[s.id] = (extra, rng.sample(range(1, room + 1), size - 2))
    return picked, extras


def _stats(values: list[int]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "min": None, "median": None, "mean": None, "max": None}
    return {
        "n": len(values),
        "min": min(values),
        "median": statistics.median(values),
        "mean": round(statistics.fmean(values), 1),
        "max": max(values),
    }
