"""Row schemas shared by the stages (JSONL on disk, dataclasses in memory)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from flexjudge.core.io import DataError


@dataclass(frozen=True)
class PairItem:
    """A preference pair: a conversation, the human-preferred reply and the other reply."""

    id: str
    question: str
    chosen: str
    rejected: str
    source: str  # where it came from, as file:line

    def to_row(self) -> dict[str, Any]:
        return asdict(self)

    def as_judge_item(self) -> JudgeItem:
        """The pair as a judge item: answers (chosen, rejected), so the gold verdict is A."""
        return JudgeItem(self.id, self.question, (self.chosen, self.rejected), "A")

    @classmethod
    def from_row(cls, row: dict[str, Any], where: str) -> PairItem:
        """Build from a JSON row; `where` (file:line) is named in the error if a field is missing or not text."""
        values = {}
        for f in fields(cls):
            value = row.get(f.name)
            if not isinstance(value, str):
                got = "missing" if f.name not in row else type(value).__name__
                raise DataError(
                    f"{where}: field {f.name!r} must be a string ({got}); "
                    f"a pair row needs {[x.name for x in fields(cls)]}"
                )
            values[f.name] = value
        return cls(**values)


def read_pair_items(path: str) -> list[PairItem]:
    """Read a JSONL file of PairItem rows (as written by the curate stage)."""
    from flexjudge.core.io import iter_jsonl

    return [PairItem.from_row(row, f"{path}:{lineno}") for lineno, row in iter_jsonl(path)]


@dataclass(frozen=True)
class JudgeItem:
    """What a judge is asked about, in dataset order; `gold` is in the format's value space.

    gold: "A"/"B"/"tie" (pair formats), "A>B"… (verdict4), a float (score), a ranking "BAC" (batch).
    `subset` groups items for macro averages; `system` names the system that produced a scored
    answer (system-level correlations); `media` holds the question's media parts ({"type": "image",
    "path": ...}), shown before the question; `answer_media[i]` holds answer i's own media (the
    generated images or videos being compared), which move with the answer when the order changes.
    `group` joins scored items that are candidate responses to one prompt (best-of-N metrics).
    `source` is file:line (or file[index]) of the row it came from.
    """

    id: str
    question: str
    answers: tuple[str, ...]
    gold: Any
    subset: str = ""
    system: str | None = None
    media: tuple[dict[str, Any], ...] = ()
    answer_media: tuple[tuple[dict[str, Any], ...], ...] = ()
    source: str = ""
    group: str | None = None

    def media_kinds(self) -> set[str]:
        """The kinds of media the item shows, the question's and every answer's (image, video, audio, ...)."""
        return {m["type"] for m in (*self.media, *(m for a in self.answer_media for m in a))}
