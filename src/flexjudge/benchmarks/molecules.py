"""Adapter for judging a molecular model's answers: PAMPA permeability, as in the paper's Mol-LLaMA case.

The molecules come in Therapeutics Data Commons' layout for PAMPA_NCATS (`Drug_ID`, `Drug` = SMILES,
`Y` = 1 high / 0 low-to-moderate permeability; `.csv`, or TDC's tab-separated `.tab`). The candidate
answers are a policy's samples, one JSONL row each: `Drug_ID`, `prompt` (what the policy was asked),
`response` (its text) and `prediction` (its parsed answer: 1, 0, or null when it gave none), with an
optional `response_id`. The judge scores each response from 1.0 to 10.0 seeing the SMILES, the prompt
and the response; the gold is 10.0 for a right prediction and 1.0 otherwise, and the responses to one
molecule form a group, so the metrics include best-of-N selection (`metrics.best_of_n`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flexjudge.benchmarks.base import Adapter, Source, csv_rows, jsonl_rows, need
from flexjudge.core.io import DataError
from flexjudge.data.schemas import JudgeItem

RIGHT, WRONG = 10.0, 1.0  # gold scores on the 1.0–10.0 scale
SMILES_PREFIX = "Molecule (SMILES): "


def molecule_question(smiles: str, prompt: str) -> str:
    """What the judge reads: the molecule as SMILES, then the policy's prompt."""
    return f"{SMILES_PREFIX}{smiles}\n\n{prompt.strip()}"


def question_smiles(question: str) -> str | None:
    """The SMILES of a question written by `molecule_question` (None for any other question)."""
    if not question.startswith(SMILES_PREFIX):
        return None
    return question[len(SMILES_PREFIX) :].split("\n", 1)[0].strip() or None


def _label(row: dict[str, Any], where: str) -> int:
    value = need(row, "Y", (int, float, str), where)
    try:
        label = int(float(value))
    except ValueError:
        label = -1
    if label not in (0, 1) or float(value) != label:
        raise DataError(f"{where}: field 'Y' must be 1 (high) or 0 (low-to-moderate), got {value!r}")
    return label


def _pampa_rows(source: Source, options: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    folder = source.path if source.path.is_dir() else source.path.parent
    molecules = folder / options.get("molecules", "molecules.csv")
    responses = folder / options.get("responses", "responses.jsonl")
    if not molecules.exists():
        raise DataError(f"{molecules} does not exist: the molecules (Drug_ID, Drug, Y) of {folder}")
    delimiter = "\t" if molecules.suffix in (".tab", ".tsv") else ","
    known: dict[str, tuple[str, int]] = {}
    for where, row in csv_rows(molecules, delimiter=delimiter):
        drug = need(row, "Drug_ID", str, where).strip()
        if drug in known:
            raise DataError(f"{where}: Drug_ID {drug!r} appears twice")
        known[drug] = (need(row, "Drug", str, where).strip(), _label(row, where))
    counts: dict[str, int] = {}
    for where, row in jsonl_rows(responses):
        drug = str(need(row, "Drug_ID", (str, int), where))
        if drug not in known:
            raise DataError(f"{where}: Drug_ID {drug!r} is not in {molecules}")
        n = counts[drug] = counts.get(drug, 0) + 1
        yield where, {**row, "_smiles": known[drug][0], "_label": known[drug][1], "_n": n - 1}


def _pampa_item(row: dict[str, Any], where: str, source: Source, options: dict[str, Any]) -> JudgeItem:
    drug = str(row["Drug_ID"])
    if "prediction" not in row:
        raise DataError(f"{where}: field 'prediction' is missing (columns: {sorted(row)})")
    prediction = row["prediction"]
    if prediction not in (0, 1, None) or isinstance(prediction, bool):
        raise DataError(
            f"{where}: field 'prediction' must be 1, 0 or null (the policy's parsed answer), got {prediction!r}"
        )
    response_id = row.get("response_id", row["_n"])
    return JudgeItem(
        f"pampa-{drug}-{response_id}",
        molecule_question(row["_smiles"], need(row, "prompt", str, where)),
        (need(row, "response", str, where),),
        RIGHT if prediction == row["_label"] else WRONG,
        source=where,
        group=drug,
    )


PAMPA = Adapter(
    _pampa_rows,
    _pampa_item,
    "TDC PAMPA_NCATS molecules.csv or .tab (Drug_ID, Drug, Y) + responses.jsonl "
    "(Drug_ID, prompt, response, prediction 1/0/null[, response_id])",
)
