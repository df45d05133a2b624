"""The paper's experiments that are not one benchmark's table, each shown by the leaderboard beside the
paper's numbers: reasoning first vs answer first (Fig. 5 left: the same SFT items with and without their
reasoning), text vs image-text training data (Table 5), JudgeAnything per any-to-any setting (Table 8) and VQA retention (Table 11: did fine-tuning
the judge cost the backbone its answering?)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from flexjudge.benchmarks.registry import get_benchmark
from flexjudge.core.io import read_json, read_jsonl
from flexjudge.judge.metrics import METRICS, bootstrap_ci

#: The reference file's benchmark names of the retention datasets (metric `vqa_accuracy`, model e.g.
#: "Qwen2.5-VL-7B" / "FLEX-VL-7B", source "FLEX-Judge Table 11").
RETENTION_PAPER_KEYS = {"textvqa": "textvqa", "okvqa": "okvqa"}


@dataclass
class ExperimentTable:
    """One experiment's section of the leaderboard: our table, the paper's (empty when the reference file
    holds none of its numbers) and a note saying what the rows are."""

    anchor: str
    title: str
    note: str
    ours: pd.DataFrame
    paper: pd.DataFrame = field(default_factory=pd.DataFrame)


def _cell(value: float, ci: Sequence[float | None] | None) -> str:
    if ci is None or ci[0] is None or np.isnan(ci[0]):
        return f"{value:.3f}"
    return f"{value:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"


def retention_table(
    paths: Sequence[str | Path], reference: pd.DataFrame | None = None
) -> ExperimentTable | None:
    """VQA soft accuracy of every judge (the retention stage's metrics.json files), one row
    per backbone and dataset, a column per variant, and each fine-tuned variant minus base with a paired
    bootstrap 95 % CI over the same questions; None when no retention run is given."""
    if not paths:
        return None
    runs = []
    for path in paths:
        path = Path(path)
        metrics = read_json(path)
        scores = {r["id"]: float(r["accuracy"]) for r in read_jsonl(path.with_name("predictions.jsonl"))}
        runs.append((metrics["backbone"], metrics, scores))
    rows = []
    keys = sorted({(backbone, m["dataset"]) for backbone, m, _ in runs})
    variants = sorted({m["variant"] for _, m, _ in runs}, key=lambda v: (v != "base", v))
    for backbone, dataset in keys:
        mine = {m["variant"]: (m, s) for b, m, s in runs if (b, m["dataset"]) == (backbone, dataset)}
        row = {
            "backbone": backbone,
            "dataset": dataset,
            "questions": max(m["n_items"] for m, _ in mine.values()),
        }
        for variant in variants:
            if variant in mine:
                m, _ = mine[variant]
                row[variant] = _cell(m["vqa_accuracy"], m.get("ci95"))
                row[f"{variant} unanswered"] = f"{m['unanswered_rate']:.2f}"
        if "base" in mine:
            base = mine["base"][1]
            for variant in variants[1:]:
                if variant not in mine:
                    continue
                treated = mine[variant][1]
                if set(treated) != set(base):
                    raise ValueError(
                        f"retention {backbone}/{dataset}: {variant} and base answered different questions; "
                        "rerun both with the same data and limit"
                    )
                ids = sorted(base)
                b, t = [base[i] for i in ids], [treated[i] for i in ids]
                ci = bootstrap_ci(lambda x, y: float(np.mean(y) - np.mean(x)), b, t, n_boot=1000)
                row[f"{variant} − base"] = _cell(float(np.mean(t) - np.mean(b)), ci)
        rows.append(row)
    paper = pd.DataFrame()
    if reference is not None and not reference.empty:
        wanted = reference[
            reference["benchmark"].isin(RETENTION_PAPER_KEYS.values())
            & (reference["metric"] == "vqa_accuracy")
        ]
        if not wanted.empty:
            paper = wanted.pivot_table(
                index=["model", "source"], columns="benchmark", values="value", aggfunc="first"
            )
            paper = paper.reset_index()
    note = (
        "VQA v2 soft accuracy (min(1, matching annotators / 3), averaged over the 10 leave-one-out subsets; "
        "official answer normalization) of each judge answering greedily with no reasoning; brackets: "
        "bootstrap 95 % CI; `<variant> − base`: paired over the same questions. An answer that does not parse "
        "scores 0 (`unanswered`)."
        + (
            ""
            if not paper.empty
            else " The paper's Table 11 numbers are not in reference/paper_results.csv (rows with benchmark "
            "textvqa or okvqa and metric vqa_accuracy would show here)."
        )
    )
    return ExperimentTable("retention", "VQA retention (paper Table 11)", note, pd.DataFrame(rows), paper)


#: The two judges of the Fig. 5 (left) comparison: (variant, how it judges).
ANSWER_FIRST = (("flex", "reasoning first"), ("flex_answer", "answer first"))
#: The two judges of the Table 5 comparison: (variant, what it was trained on).
IMAGE_TEXT = (("flex", "text rationales"), ("flex_image", "image-text pairs"))


def paper_rows(reference: pd.DataFrame | None, source: str) -> pd.DataFrame:
    """The reference file's rows of one table or figure of the paper (`source`, e.g. "FLEX-Judge Table 5")."""
    if reference is None or reference.empty:
        return pd.DataFrame()
    rows = reference[reference["source"] == source]
    return rows[["benchmark", "subset", "metric", "model", "value"]].reset_index(drop=True)


def variant_table(
    table: pd.DataFrame,
    judges: Sequence[tuple[str, str]],
    anchor: str,
    title: str,
    note: str,
    reference: pd.DataFrame | None = None,
    source: str = "",
) -> ExperimentTable | None:
    """Two variants side by side: each benchmark's headline metric and parse rate, one row per backbone,
    benchmark, voting and budget both ran, and the reference file's rows of the paper's `source`; None
    unless both variants were evaluated."""
    variants = [v for v, _ in judges]
    both = table[table["variant"].isin(variants)]
    if set(both["variant"]) != set(variants):
        return None
    rows = []
    for (bench, backbone, voting, budget), group in both.groupby(
        ["benchmark", "backbone", "voting", "budget"]
    ):
        by = group.set_index("variant")
        if set(by.index) != set(variants):
            continue
        metric = get_benchmark(bench).headline
        row = {
            "benchmark": bench,
            "backbone": backbone,
            "setting": f"{voting}/{budget}",
            "metric": METRICS[metric].label,
        }
        for variant, how in judges:
            row[f"{variant} ({how})"] = by.loc[variant, metric]
        for variant, _ in judges:
            failures = by.loc[variant].get("parse_failure_rate")
            row[f"{variant} parse rate"] = None if pd.isna(failures) else 1 - float(failures)
        rows.append(row)
    paper = paper_rows(reference, source)
    note += (
        f" The paper's numbers ({source}) are below."
        if not paper.empty
        else f" The paper's numbers ({source}) are not in reference/paper_results.csv (rows with that source "
        "show here)."
    )
    return ExperimentTable(anchor, title, note, pd.DataFrame(rows).round(3), paper)


def answer_first_table(table: pd.DataFrame, reference: pd.DataFrame | None = None) -> ExperimentTable | None:
    """Reasoning first vs answer first (Fig. 5 left): flex and flex_answer (the same SFT items, targets
    without the reasoning) side by side."""
    note = (
        "The flex judge (SFT targets: reasoning in <think>, then the answer tags) against flex_answer (the same "
        "SFT items with the answer tags alone, evaluated with reasoning=false: a prompt that asks for no "
        "reasoning and no <think> opening), per benchmark and setting. The paper's Fig. 5 (left) makes this "
        "comparison on its 7B judge."
    )
    title = "Reasoning first vs answer first (paper Fig. 5, left)"
    return variant_table(
        table, ANSWER_FIRST, "answer-first", title, note, reference, "FLEX-Judge Fig. 5 (left)"
    )


def image_text_table(table: pd.DataFrame, reference: pd.DataFrame | None = None) -> ExperimentTable | None:
    """Text vs image-text training data (Table 5): flex and flex_image (the same select and finetune on
    RLHF-V's image-text pairs) side by side."""
    note = (
        "The flex judge (trained on text rationales) against flex_image (the same sample, select and finetune "
        "stages on RLHF-V image-text preference pairs: the teacher judges each pair with its image), per "
        "benchmark and setting. The paper's Table 5 makes this comparison at 7B."
    )
    title = "Text vs image-text training data (paper Table 5)"
    return variant_table(table, IMAGE_TEXT, "image-text", title, note, reference, "FLEX-Judge Table 5")


def judge_anything_table(table: pd.DataFrame) -> ExperimentTable | None:
    """JudgeAnything per setting (the paper's Table 8 rows): each judge's accuracy (tie a class) on each of the
    15 settings it judged, their average, and the items left out because the judge takes none of their media
    (counted by setting); None without a JudgeAnything evaluation."""
    from flexjudge.benchmarks.anything import SETTINGS

    rows = table[table["benchmark"] == "judge_anything"]
    if rows.empty:
        return None
    columns: dict[str, dict[str, str]] = {}
    for r in rows.itertuples():
        record = read_json(r.source)
        by = record["metrics"].get("by_subset") or {}
        if not by:  # one setting only: the overall metrics are that setting's
            settings = {i.get("subset") for i in read_jsonl(Path(r.source).with_name("predictions.jsonl"))}
            by = {s: record["metrics"] for s in settings}
        left = (record.get("data") or {}).get("skipped_unsupported_media") or {}
        cells = {}
        for task, arrow in SETTINGS.items():
            if task in by:
                cells[arrow] = f"{by[task]['accuracy']:.3f} (n={by[task]['n_items']})"
            elif task in left:
                cells[arrow] = f"left out: {left[task]} (media the judge does not take)"
            else:
                cells[arrow] = ""
        judged = sum(task in by for task in SETTINGS)
        cells["average"] = f"{record['metrics']['macro_accuracy']:.3f} (of {judged} settings)"
        columns[f"{r.backbone}/{r.variant} {r.voting}/{r.budget}"] = cells
    frame = pd.DataFrame(columns).rename_axis("setting").reset_index()
    note = (
        "Accuracy of each judge on each any-to-any setting of JudgeAnything's pair comparison (Overall rubric; "
        "the human choice has ties, a tie is a class; n = pairs judged), and the average over the settings it "
        "judged (macro_accuracy, the paper's Table 8 'average'; the paper's rows are in the judge_anything "
        "section above). A setting whose media the judge does not take is left out and counted, not scored."
    )
    return ExperimentTable(
        "judge-anything-settings", "JudgeAnything per setting (paper Table 8)", note, frame
    )


def experiment_tables(
    table: pd.DataFrame | None = None,
    retention: Sequence[str | Path] = (),
    reference: pd.DataFrame | None = None,
) -> list[ExperimentTable]:
    """Every experiment section there are results for, in the leaderboard's order: from the leaderboard
    `table` (the variant comparisons) and from the retention runs' metrics.json files."""
    tables = [
        *(
            (
                answer_first_table(table, reference),
                image_text_table(table, reference),
                judge_anything_table(table),
            )
            if table is not None
            else ()
        ),
        retention_table(retention, reference),
    ]
    return [t for t in tables if t is not None]


def experiments_markdown(tables: Sequence[ExperimentTable]) -> list[str]:
    """Markdown lines of the experiment sections."""
    parts: list[str] = []
    for t in tables:
        parts += [f"## {t.title}", "", t.note, "", t.ours.to_markdown(index=False), ""]
        if not t.paper.empty:
            parts += ["Paper:", "", t.paper.to_markdown(index=False, floatfmt=".3f"), ""]
    return parts
