"""Judge formats: what the judge is asked, how its answer is parsed, how k votes combine.

Every format works on values in the order the answers were *shown*; `to_original` maps a value back to
the dataset's order so that votes from different presentations can be combined and scored.

| format        | answer tags                  | value                       | default aggregation |
|---------------|------------------------------|-----------------------------|---------------------|
| pair_verdict  | A / B / tie                  | "A", "B", "tie"             | majority            |
| pair_scores   | one score per reply          | verdict from the two scores | summed (A −1, B +1) |
|               | (equal scores: "tie")        |                             |                     |
| verdict4      | A>B / B>A / tie_good/tie_bad | that label                  | majority            |
| score         | one score                    | float                       | mean                |
| batch         | one score per reply          | ranking "BAC" (best first)  | mean_score          |
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from flexjudge.protocol import voting
from flexjudge.protocol.parsing import (
    Parsed,
    ParseFailure,
    normalize_verdict4,
    parse_answers,
    parse_number,
    parse_pair_verdict,
)
from flexjudge.protocol.prompts import (
    ANSWER_CLOSE,
    ANSWER_OPEN,
    PAIR_SYSTEM,
    THINK_CLOSE,
    THINK_OPEN,
    answer_letters,
    answer_tags,
    judge_messages,
)

FAILURE_POLICIES = ("count_as_wrong", "tie", "default_score")


@dataclass(frozen=True)
class ScoreScale:
    """A score range; `decimals` is how many decimals an answer may have (1.0–5.0 by tenths: 1)."""

    low: float
    high: float
    decimals: int = 0

    def __str__(self) -> str:
        return f"{self.format(self.low)} to {self.format(self.high)}"

    def parse(self, raw: str) -> float | ParseFailure:
        return parse_number(raw, self.low, self.high, self.decimals)

    def format(self, value: float) -> str:
        return f"{value:.{self.decimals}f}"

    def values(self) -> list[float]:
        """Every valid score, low to high."""
        step = 10.0**-self.decimals
        count = round((self.high - self.low) / step) + 1
        return [round(self.low + i * step, self.decimals) for i in range(count)]

    @property
    def midpoint(self) -> float:
        return round((self.low + self.high) / 2, self.decimals)


_REASON = f"First reason step by step between {THINK_OPEN} and {THINK_CLOSE}; "
#: What replaces the reasoning instruction in an answer-first prompt (`answer_only`).
_DIRECT = f"Give no reasoning and write no {THINK_OPEN} section; "
_FAIR = "do not let the order or the length of the replies sway you. "
_WORDS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def _count(n: int) -> str:
    """n in words up to ten ("three"), else digits: a small judge matches the tag count to the word."""
    return _WORDS[n - 1] if 1 <= n <= len(_WORDS) else str(n)


def answer_only(system: str) -> str:
    """An answer-first version of a judge's system prompt (the paper's Fig. 5 ablation): its instruction to
    reason in <think> first becomes one to answer at once. A prompt without such an instruction is an error,
    so a new format cannot keep asking for reasoning unnoticed."""
    reason_verdict = f"First think it through step by step between {THINK_OPEN} and {THINK_CLOSE}: weigh"
    for old, new in ((_REASON, _DIRECT), (reason_verdict, f"{_DIRECT.rstrip('; ')}, but weigh")):
        if old in system:
            return system.replace(old, new)
    raise ValueError(f"no reasoning instruction to take out of the system prompt {system[:80]!r}...")


class JudgeFormat:
    """Base: subclasses set `name`, `n_answers` (None = any), `aggregations`, and implement the hooks."""

    name: str
    n_answers: int | None
    aggregations: dict[str, Callable[[Sequence[Any]], Any]]
    tie_value: Any = None  # what the `tie` failure policy fills in (None: policy not available)
    thinks: bool = True  # reasons in <think> first (our formats); a baseline judge's own format does not
    deviations: tuple[str, ...] = ()  # what the format changes from a published protocol (baseline formats)
    default_value: Any = None  # what the `default_score` failure policy fills in

    def system_prompt(self, n: int) -> str:
        raise NotImplementedError

    def parse(self, text: str, n: int) -> Parsed:
        raise NotImplementedError

    def answer_tags(self, n: int) -> int | None:
        """How many <answer> tags `parse` takes for `n` shown answers (what answer forcing holds a vote to);
        None for a format that answers without them (a baseline judge's own markers)."""
        return None if not self.thinks else 1

    def render(self, value: Any) -> str:
        """The answer tags that parse back to `value` (for SFT targets and the simulated judge)."""
        raise NotImplementedError

    def to_original(self, value: Any, order: Sequence[int]) -> Any:
        """Map a value in shown order back to dataset order (shown position i holds answer order[i])."""
        return value

    def to_shown(self, value: Any, order: Sequence[int]) -> Any:
        """Map a dataset-order value (e.g. the gold label) to the shown order."""
        return value

    def messages(
        self,
        question: str,
        answers: Sequence[str],
        media=None,
        hint: str | None = None,
        answer_media=None,
        reasoning: bool = True,
    ):
        """The judge's chat; `reasoning=False`: the answer-first prompt (`answer_only`)."""
        if self.n_answers is not None and len(answers) != self.n_answers:
            raise ValueError(f"format {self.name} judges {self.n_answers} answers, got {len(answers)}")
        system = self.system_prompt(len(answers))
        return judge_messages(
            system if reasoning else answer_only(system),
            question,
            answers,
            media=media,
            answer_media=answer_media,
            hint=hint,
        )

    def completion(self, reasoning: str, value: Any) -> str:
        """Assistant text after the think prefill: reasoning, closing tag, answer tags."""
        return f"{reasoning.strip()}\n{THINK_CLOSE}\n{self.render(value)}"

    def fill(self, parsed: Parsed, policy: str) -> Any:
        """The vote's value under a failure policy; the parse failure itself is always counted elsewhere."""
        if parsed.ok or policy == "count_as_wrong":
            return parsed.value
        fallback = {"tie": self.tie_value, "default_score": self.default_value}[policy]
        if fallback is None:
            raise ValueError(f"failure policy {policy!r} does not apply to format {self.name}")
        return fallback

    def check_policy(self, policy: str) -> None:
        """Fail early (at config time) on an unknown policy or one the format cannot apply."""
        if policy not in FAILURE_POLICIES:
            raise ValueError(f"failure policy {policy!r}: choose from {FAILURE_POLICIES}")
        if policy != "count_as_wrong":
            self.fill(Parsed(None, ParseFailure.EMPTY), policy)

    def aggregate(self, votes: Sequence[Any], how: str) -> Any:
        try:
            return self.aggregations[how](votes)
        except KeyError:
            raise ValueError(
                f"format {self.name}: aggregation {how!r} not in {sorted(self.aggregations)}"
            ) from None


def _swap_letters(value: str, order: Sequence[int], inverse: bool) -> str:
    """Relabel letters in a verdict or ranking string by a permutation of the answers."""
    letters = answer_letters(len(order))
    if inverse:  # shown letter i → original letter order[i]
        table = {letters[i]: letters[o] for i, o in enumerate(order)}
    else:  # original letter order[i] → shown letter i
        table = {letters[o]: letters[i] for i, o in enumerate(order)}
    return "".join(table.get(ch, ch) for ch in value)


class PairVerdict(JudgeFormat):
    """Pairwise verdict A / B (/ tie when allowed)."""

    name = "pair_verdict"
    n_answers = 2

    def __init__(self, allow_tie: bool = True):
        self.allowed = ("A", "B", "tie") if allow_tie else ("A", "B")
        self.tie_value = "tie" if allow_tie else None
        self.aggregations = {"majority": voting.majority_verdict, "summed": voting.summed_pair_votes}

    def system_prompt(self, n: int) -> str:
        if "tie" in self.allowed:
            return PAIR_SYSTEM
        return PAIR_SYSTEM.replace(", or tie if neither is better", "; a tie is not allowed")

    def parse(self, text: str, n: int = 2) -> Parsed:
        return parse_pair_verdict(text, self.allowed)

    def render(self, value: str) -> str:
        return answer_tags([value])

    def to_original(self, value, order):
        return value if value is None or value == "tie" else _swap_letters(value, order, inverse=True)

    def to_shown(self, value, order):
        return value if value is None or value == "tie" else _swap_letters(value, order, inverse=False)


class PairScores(JudgeFormat):
    """Each of two replies scored; the verdict is the higher score. Equal scores are a tie verdict, a
    parsed answer: without ties (`allow_tie=False`) the prompt asks for different scores, and a tie
    then counts as wrong against any gold (as the official scripts treat equal scores)."""

    name = "pair_scores"
    n_answers = 2

    def __init__(self, scale: ScoreScale = ScoreScale(1, 10), allow_tie: bool = True):
        self.scale = scale
        self.allow_tie = allow_tie
        self.tie_value = "tie" if allow_tie else None
        self.aggregations = {"summed": voting.summed_pair_votes, "majority": voting.majority_verdict}

    def system_prompt(self, n: int) -> str:
        rule = "Equal scores mean a tie." if self.allow_tie else "The two scores must differ."
        return (
            "You are an impartial judge of AI assistant replies. You will see a conversation and two "
            f"candidate replies, labelled A and B. {_REASON}{_FAIR}Then score each reply from {self.scale} "
            f"in its own {ANSWER_OPEN}{ANSWER_CLOSE} tag, A first: two tags in all. {rule}"
        )

    def answer_tags(self, n: int) -> int | None:
        return 2 if self.thinks else None

    def parse(self, text: str, n: int = 2) -> Parsed:
        parsed = parse_answers(text, 2, self.scale.parse)
        if not parsed.ok:
            return parsed
        a, b = parsed.value
        return Parsed("A" if a > b else "B" if b > a else "tie", None, parsed.think)

    def render(self, value: str) -> str:
        top, low = self.scale.high, self.scale.low
        scores = {"A": (top, low), "B": (low, top), "tie": (top, top)}[value]
        return answer_tags([self.scale.format(v) for v in scores])

    to_original = PairVerdict.to_original
    to_shown = PairVerdict.to_shown


VERDICT4 = ("A>B", "B>A", "tie_good", "tie_bad")


class Verdict4(JudgeFormat):
    """GenAI-Bench's four-way vote: A>B, B>A, tie_good (both good), tie_bad (both bad)."""

    name = "verdict4"
    n_answers = 2
    tie_value = "tie_bad"

    def __init__(self):
        self.aggregations = {"majority": voting.majority_verdict}

    def system_prompt(self, n: int) -> str:
        return (
            "You are an impartial judge of generated content. You will see a request and two candidate "
            f"outputs, labelled A and B. {_REASON}{_FAIR}Then answer in {ANSWER_OPEN}{ANSWER_CLOSE} with "
            "exactly one of: A>B (A is better), B>A (B is better), tie_good (both are good), "
            "tie_bad (both are bad)."
        )

    def parse(self, text: str, n: int = 2) -> Parsed:
        return parse_answers(text, 1, lambda raw: normalize_verdict4(raw) or ParseFailure.INVALID_VALUE)

    def render(self, value: str) -> str:
        return answer_tags([value])

    def to_original(self, value, order):
        return (
            value if value is None or value.startswith("tie") else _swap_letters(value, order, inverse=True)
        )

    def to_shown(self, value, order):
        return (
            value if value is None or value.startswith("tie") else _swap_letters(value, order, inverse=False)
        )


class SingleScore(JudgeFormat):
    """One reply scored on a scale (1–5, 1–10, or 1.0–5.0 by tenths)."""

    name = "score"
    n_answers = 1

    def __init__(self, scale: ScoreScale = ScoreScale(1, 5)):
        self.scale = scale
        self.default_value = scale.midpoint
        self.aggregations = {"mean": voting.mean_score, "median": voting.median_score}

    def system_prompt(self, n: int) -> str:
        step = " in steps of 0.1" if self.scale.decimals == 1 else " as a whole number"
        return (
            "You are an impartial judge. You will see a request and one candidate response. "
            f"{_REASON}then rate the response from {self.scale}{step} in {ANSWER_OPEN}{ANSWER_CLOSE}."
        )

    def parse(self, text: str, n: int = 1) -> Parsed:
        return parse_answers(text, 1, self.scale.parse)

    def render(self, value: float) -> str:
        return answer_tags([self.scale.format(value)])


class BatchRanking(JudgeFormat):
    """N replies scored at once; the value is their ranking, best first ("BAC")."""

    name = "batch"
    n_answers = None

    def __init__(self, scale: ScoreScale = ScoreScale(1, 10)):
        self.scale = scale
        self.aggregations = {"mean_score": self._mean_score_ranking, "borda": self._borda_ranking}

    def system_prompt(self, n: int) -> str:
        letters = ", ".join(answer_letters(n))
        return (
            f"You are an impartial judge of AI assistant replies. You will see a conversation and {_count(n)} "
            f"candidate replies, labelled {letters}. {_REASON}{_FAIR}Then score every reply from "
            f"{self.scale} in its own {ANSWER_OPEN}{ANSWER_CLOSE} tag, in label order: {_count(n)} tags in "
            "all; give no two replies the same score."
        )

    def answer_tags(self, n: int) -> int | None:
        return n if self.thinks else None

    def parse(self, text: str, n: int) -> Parsed:
        parsed = parse_answers(text, n, self.scale.parse)
        if not parsed.ok:
            return parsed
        scores = parsed.value if n > 1 else (parsed.value,)
        return Parsed(BatchVote(voting.ranking_from_scores(scores), tuple(scores)), None, parsed.think)

    def render(self, value: str) -> str:
        n = len(value)
        scores = {letter: self.scale.high - place for place, letter in enumerate(value)}
        return answer_tags([self.scale.format(scores[letter]) for letter in answer_letters(n)])

    @staticmethod
    def _mean_score_ranking(votes: Sequence[BatchVote | None]) -> str | None:
        means = voting.mean_scores([v.scores if v is not None else None for v in votes])
        return None if means is None else voting.ranking_from_scores(means)

    @staticmethod
    def _borda_ranking(votes: Sequence[BatchVote | None]) -> str | None:
        return voting.borda_ranking([v.ranking if v is not None else None for v in votes])

    def to_original(self, value, order):
        if value is None:
            return None
        if isinstance(value, BatchVote):
            scores = [0.0] * len(order)
            for shown, original in enumerate(order):
                scores[original] = value.scores[shown]
            return BatchVote(_swap_letters(value.ranking, order, inverse=True), tuple(scores))
        return _swap_letters(value, order, inverse=True)

    def to_shown(self, value, order):
        return None if value is None else _swap_letters(value, order, inverse=False)


@dataclass(frozen=True)
class BatchVote:
    """One batch vote: the ranking (best first) and the scores it came from, in the same label order."""

    ranking: str
    scores: tuple[float, ...]

    @property
    def tied(self) -> bool:
        return len(set(self.scores)) < len(self.scores)


def make_format(name: str, scale: Sequence[float] | None = None, decimals: int = 0, allow_tie: bool = True):
    """A format from config values: name, optional [low, high] scale with decimals, tie option."""
    kwargs: dict[str, Any] = {}
    if scale is not None:
        kwargs["scale"] = ScoreScale(float(scale[0]), float(scale[1]), decimals)
    builders: dict[str, Callable[..., JudgeFormat]] = {
        "pair_verdict": lambda: PairVerdict(allow_tie),
        "pair_scores": lambda: PairScores(allow_tie=allow_tie, **kwargs),
        "verdict4": Verdict4,
        "score": lambda: SingleScore(**kwargs),
        "batch": lambda: BatchRanking(**kwargs),
    }
    if name not in builders:
        raise ValueError(f"judge format {name!r}: choose from {sorted(builders)}")
    return builders[name]()
