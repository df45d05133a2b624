"""Row schemas shared by the stages (JSONL on disk, dataclasses in memory)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from flexjudge.io import DataError


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
    from flexjudge.io import iter_jsonl

    return [PairItem.from_row(row, f"{path}:{lineno}") for lineno, row in iter_jsonl(path)]
