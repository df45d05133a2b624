"""A policy answering molecule questions: its prompts, its N sampled answers, and the label each answer gives.

The paper's molecular case (docs/molecules.md): a molecular LLM answers a property question about a
molecule (PAMPA permeability: high, or low-to-moderate) in one of three prompt types — `default` (the
question), `rationale` (reason first) and `task_info` (the question with what the assay measures). The
molecule enters as a molecule part (8 `<mol>` embeddings in a molecular backbone) and, by default, also as
SMILES text. An answer that does not write "Final answer:" gets that text appended and is continued once;
the label is read only after the last "Final answer:" and only from the task's phrases (`Task.labels`):
an answer naming no label, or labels of both classes, is unparsed — counted, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flexjudge.core.io import DataError

FINAL = "Final answer:"
PROMPT_TYPES = ("default", "rationale", "task_info")


@dataclass(frozen=True)
class Task:
    """A binary molecule-property task: what is asked, how each prompt type asks it, and how answers map to
    labels. `prompts[type]` is a template over a molecule row's fields ({smiles} and any extra column, e.g.
    {pIC50}); `labels` maps 1 and 0 to the phrases that name them (lower-case, matched as whole phrases);
    `rubric` is what the judge scores an answer by."""

    name: str
    prompts: Mapping[str, str]
    labels: Mapping[int, Sequence[str]]
    rubric: str

    def __post_init__(self):
        unknown = set(self.prompts) - set(PROMPT_TYPES)
        if unknown:
            raise ValueError(f"task {self.name}: unknown prompt types {sorted(unknown)}; use {PROMPT_TYPES}")
        if set(self.labels) != {0, 1} or not all(self.labels.values()):
            raise ValueError(f"task {self.name}: labels must give phrases for both 1 and 0")

    @classmethod
    def from_conf(cls, conf: Mapping[str, Any]) -> Task:
        """A task from its config node (conf/moltask/<name>.yaml)."""
        return cls(
            str(conf["name"]),
            {str(k): str(v) for k, v in conf["prompts"].items()},
            {int(k): tuple(str(p).lower() for p in v) for k, v in conf["labels"].items()},
            str(conf["rubric"]),
        )

    def prompt(self, prompt_type: str, row: Mapping[str, Any], where: str = "") -> str:
        """The question of `prompt_type` about one molecule row."""
        if prompt_type not in self.prompts:
            raise ValueError(
                f"task {self.name}: no prompt of type {prompt_type!r}; it has {sorted(self.prompts)}"
            )
        try:
            return self.prompts[prompt_type].format(**row)
        except KeyError as exc:
            raise DataError(
                f"{where or 'molecule row'}: prompt {prompt_type!r} of task {self.name} needs the column "
                f"{exc.args[0]!r}, which the row lacks (columns: {sorted(row)})"
            ) from None


def parse_label(text: str, task: Task) -> tuple[int | None, str | None]:
    """(label, None) from the text after the answer's last "Final answer:", else (None, reason): "no final
    answer", "no label" or "both labels". A phrase of one class inside another's ("moderate permeability"
    in "low-to-moderate permeability") counts once, for the longer phrase."""
    if FINAL.lower() not in text.lower():
        return None, "no final answer"
    tail = text.lower().rsplit(FINAL.lower(), 1)[1]
    found: set[int] = set()
    spans: list[tuple[int, int]] = []
    phrases = sorted(((p, lab) for lab, ps in task.labels.items() for p in ps), key=lambda x: -len(x[0]))
    for phrase, label in phrases:
        for m in re.finditer(r"(?<![a-z-])" + re.escape(phrase) + r"(?![a-z])", tail):
            if any(s <= m.start() < e for s, e in spans):
                continue  # inside a longer phrase already counted
            spans.append((m.start(), m.end()))
            found.add(label)
    if not found:
        return None, "no label"
    if len(found) > 1:
        return None, "both labels"
    return found.pop(), None


def policy_messages(
    question: str, smiles: str, *, molecule_part: bool, smiles_in_text: bool
) -> tuple[list[dict[str, Any]], tuple[dict[str, Any], ...]]:
    """The chat and its media parts for one question: the molecule part first (a molecular policy), then
    the SMILES (when asked) and the question."""
    media = ({"type": "molecule", "smiles": smiles},) if molecule_part else ()
    text = (f"Molecule (SMILES): {smiles}\n\n" if smiles_in_text else "") + question.strip()
    content: list[dict[str, Any]] = [*media, {"type": "text", "text": text}]
    return [{"role": "user", "content": content}], media


def answer_text(first: str, continued: str | None) -> str:
    """The whole answer: the first generation, plus "Final answer:" and its continuation when it had none."""
    if continued is None:
        return first
    return f"{first.rstrip()}\n{FINAL}{continued}"


def continuation_prefix(first: str) -> str:
    """The assistant text a continuation starts from: the first answer and "Final answer:"."""
    return f"{first.rstrip()}\n{FINAL}"


@dataclass(frozen=True)
class Sampling:
    """How the policy answers: `n` samples per question (sample i draws from its own seeded stream; n = 1 at
    temperature 0 is the greedy answer), a token cap for the answer and for its "Final answer:" continuation."""

    n: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    max_new_tokens: int = 128
    final_tokens: int = 16

    def __post_init__(self):
        if self.n < 1:
            raise ValueError(f"n={self.n}: at least one answer per question")
        if self.n > 1 and self.temperature == 0:
            raise ValueError(f"n={self.n} answers at temperature 0 would all be the one greedy answer")


def sample_answers(
    session,
    task: Task,
    molecules: Sequence[Mapping[str, Any]],
    prompt_type: str,
    sampling: Sampling,
    *,
    molecule_part: bool,
    smiles_in_text: bool = True,
    cache: str | None = None,
    progress: bool = True,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """`sampling.n` answers of the policy behind `session` (a `generate.session.JudgeSession`) to each
    molecule row (Drug_ID, Drug = SMILES, Y = 1/0, extra columns for the prompt): (one row per answer in
    molecule then sample order, counts)."""
    from flexjudge.generate.engine import SamplingParams

    chats, media, questions = [], [], []
    for i, row in enumerate(molecules):
        question = task.prompt(prompt_type, row, f"molecule {row.get('Drug_ID', i)}")
        chat, parts = policy_messages(
            question, str(row["Drug"]), molecule_part=molecule_part, smiles_in_text=smiles_in_text
        )
        chats.append(chat)
        media.append(parts)
        questions.append(question)
    params = SamplingParams(
        max_new_tokens=sampling.max_new_tokens,
        temperature=sampling.temperature,
        top_p=sampling.top_p,
        n=sampling.n,
        seed=sampling.seed,
    )
    gens, _, first_counts = session.votes(
        chats, params, media=media, prefill_think=False, cache=cache, desc="policy", progress=progress
    )
    # answers without "Final answer:" get it appended and are continued once (one vote from each)
    todo = [(m, s) for m, per in enumerate(gens) for s, g in enumerate(per) if FINAL not in g.text]
    continued: dict[tuple[int, int], str] = {}
    if todo:
        more, _, _ = session.votes(
            [chats[m] for m, _ in todo],
            SamplingParams(
                max_new_tokens=sampling.final_tokens,
                temperature=sampling.temperature,
                top_p=sampling.top_p,
                n=1,
                seed=sampling.seed,
            ),
            media=[media[m] for m, _ in todo],
            prefill_think=False,
            prefixes=[continuation_prefix(gens[m][s].text) for m, s in todo],
            cache=cache,
            desc="policy: Final answer",
            progress=progress,
        )
        continued = {key: per[0].text for key, per in zip(todo, more, strict=True)}
    rows = []
    for m, (row, per) in enumerate(zip(molecules, gens, strict=True)):
        for s, g in enumerate(per):
            text = answer_text(g.text, continued.get((m, s)))
            label, failure = parse_label(text, task)
            rows.append(
                {
                    "Drug_ID": str(row["Drug_ID"]),
                    "sample": s,
                    "prompt_type": prompt_type,
                    "prompt": questions[m],
                    "response": text,
                    "prediction": label,
                    "parse_failure": failure,
                    "continued": (m, s) in continued,
                    "Y": int(row["Y"]),
                    "correct": label == int(row["Y"]),
                    "n_tokens": g.n_tokens,
                }
            )
    counts = {
        "answers": len(rows),
        "continued": len(continued),
        "generated": first_counts.generated,
        "cached": first_counts.cached,
    }
    return rows, counts


def answer_summary(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Parse rate (with failures by reason), accuracy (an unparsed answer counts wrong) and accuracy over
    parsed answers, and the share of answers that needed the "Final answer:" continuation."""
    n = len(rows)
    parsed = [r for r in rows if r["prediction"] is not None]
    reasons: dict[str, int] = {}
    for r in rows:
        if r["parse_failure"]:
            reasons[r["parse_failure"]] = reasons.get(r["parse_failure"], 0) + 1
    return {
        "answers": n,
        "parse_rate": len(parsed) / n if n else float("nan"),
        "parse_failures": reasons,
        "accuracy": sum(r["correct"] for r in rows) / n if n else float("nan"),
        "accuracy_parsed": sum(r["correct"] for r in parsed) / len(parsed) if parsed else float("nan"),
        "predicted_high": sum(r["prediction"] == 1 for r in parsed),
        "continued": sum(bool(r["continued"]) for r in rows),
    }
