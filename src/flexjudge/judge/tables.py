"""The leaderboard's tables and plot, rebuilt from every metrics.json: one row per evaluation with the
benchmark's registered metrics, the paper's numbers beside ours, parse rates and the training data behind each judge."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from flexjudge.benchmarks.registry import get_benchmark
from flexjudge.core.io import read_json
from flexjudge.generate.budget import ANSWER_FORCING_DEVIATION
from flexjudge.judge.metrics import METRICS

KEYS = ["benchmark", "backbone", "variant", "voting", "budget"]


def collect(eval_root: str | Path) -> pd.DataFrame:
    """One row per metrics.json: identifiers, k, and the benchmark's registered metrics."""
    rows = []
    for path in sorted(Path(eval_root).glob("**/metrics.json")):
        record = read_json(path)
        spec = get_benchmark(record["benchmark"])
        row: dict[str, Any] = {k: record[k] for k in KEYS}
        row["k"] = record["k"]
        row.update({m: record["metrics"].get(m) for m in spec.metrics})
        for column in subset_columns(record["benchmark"]):  # subsets the paper reports
            metric, subset = column.split("@")
            row[column] = record["metrics"].get("by_subset", {}).get(subset, {}).get(metric)
        row["answer_forcing_rate"] = (record.get("thinking") or {}).get("answer_forcing_rate")
        row["answer_forcing"] = ANSWER_FORCING_DEVIATION in record.get("protocol_deviations", [])
        row["sft_manifest"] = record.get("sft_manifest")
        row["source"] = str(path)
        rows.append(row)
    if not rows:
        raise FileNotFoundError(f"no metrics.json under {eval_root}; run the evaluate stage first")
    return pd.DataFrame(rows).sort_values(
        ["benchmark", "backbone", "variant", "k", "budget"], ignore_index=True
    )


def subset_columns(bench: str) -> list[str]:
    """Per-subset columns ("metric@subset") a benchmark shows because the paper reports them."""
    return [m for m in get_benchmark(bench).paper_metrics.values() if "@" in m]


def column_label(column: str) -> str:
    """A metric's header (with its direction arrow); per-subset columns keep their @subset."""
    metric, _, subset = column.partition("@")
    return METRICS[metric].label + (f" @{subset}" if subset else "")


def paper_numbers(reference: pd.DataFrame, bench: str) -> pd.DataFrame:
    """The paper's reported numbers for a benchmark, one row per model, in our metric names and scale
    (reported percentages become fractions); empty when the paper does not report it."""
    spec = get_benchmark(bench)
    if not spec.paper_key or reference.empty:
        return pd.DataFrame()
    rows = reference[reference["benchmark"] == spec.paper_key].copy()
    rows["ours"] = (rows["subset"] + "/" + rows["metric"]).map(spec.paper_metrics)
    rows = rows.dropna(subset=["ours"])
    if rows.empty:
        return pd.DataFrame()
    rows["value"] = [v / 100 if v > 1.5 else v for v in rows["value"].astype(float)]
    table = rows.pivot_table(index=["model", "source"], columns="ours", values="value", aggfunc="first")
    return table.reset_index()


#: What the paper rows are, above the tables (markdown and html).
PAPER_NOTE = (
    "Under each benchmark, **paper** rows are the numbers the FLEX-Judge paper reports (its 7B judges and "
    "baselines on the full benchmarks; percentages shown as fractions), not runs of this repository."
)
PARSE_RATE_NOTE = (
    "Share of single votes whose answer tags parse (1 − parse_failure_rate), per judge "
    "(variant, voting/budget). A benchmark judged by an audio twin is in the same row."
)
ANSWER_FORCING_NOTE = (
    "Budgets with answer forcing (a deviation from the paper, e.g. think64_tags) hold each answer to the "
    "number of <answer> tags its format asks for: the engine opens the next tag where the judge would stop "
    "short and ends the vote once that many are closed. Share of votes it changed, per judge; on the "
    "transformers engine a vote it did not change reads as under the same think cap without forcing (up to "
    "the float rounding of its decoding batch)."
)


@dataclass
class BenchmarkTables:
    """One benchmark's section of the leaderboard: our rows and the paper's, with labelled metric columns
    (`paper` is empty when the paper does not report the benchmark)."""

    name: str
    description: str
    ours: pd.DataFrame
    paper: pd.DataFrame
    paper_key: str | None


def benchmark_tables(table: pd.DataFrame, reference: pd.DataFrame | None = None) -> list[BenchmarkTables]:
    """Each benchmark's tables, in name order: one row per evaluation, and the paper's numbers."""
    reference = reference if reference is not None else pd.DataFrame()
    out = []
    for bench, group in table.groupby("benchmark", sort=True):
        spec = get_benchmark(bench)
        metrics = [*spec.metrics, *subset_columns(bench)]
        cols = [c for c in ["backbone", "variant", "voting", "budget", *metrics] if c in group]
        shown = group[cols].rename(columns={m: column_label(m) for m in metrics})
        paper = paper_numbers(reference, bench)
        if not paper.empty:
            paper.insert(0, "reported", "paper")
            paper = paper.rename(
                columns={m: column_label(m) for m in paper.columns if m in METRICS or "@" in m}
            )
        out.append(BenchmarkTables(bench, spec.description, shown, paper, spec.paper_key))
    return out


def to_markdown(
    table: pd.DataFrame,
    reference: pd.DataFrame | None = None,
    here: Path | None = None,
    experiments: list[str] | None = None,
) -> str:
    """A readable report: one table per benchmark with the paper's numbers beside ours (labelled), the
    `experiments` sections (markdown lines, `judge.experiments`), metric directions and meanings below."""
    parts = [
        "# flexjudge leaderboard",
        "",
        "Rebuilt from `results/eval/**/metrics.json` by `python -m flexjudge.leaderboard`. " + PAPER_NOTE,
        "",
    ]
    parts += parse_rates(table)
    for b in benchmark_tables(table, reference):
        parts += [f"## {b.name}", "", b.description, "", b.ours.to_markdown(index=False, floatfmt=".3f"), ""]
        if not b.paper.empty:
            parts += [f"Paper ({b.paper_key}):", "", b.paper.to_markdown(index=False, floatfmt=".3f"), ""]
    parts += experiments or []
    parts += training_data(table, here or Path.cwd())
    parts += ["## Metrics", ""] + [f"- **{m.label}**: {m.description}" for m in METRICS.values()]
    return "\n".join(parts) + "\n"


def parse_rate_table(table: pd.DataFrame) -> pd.DataFrame | None:
    """The share of votes that parsed, one row per benchmark (and format), one column per judge and
    setting, so the base and the fine-tuned judge read side by side (None without parse rates)."""
    if "parse_failure_rate" not in table:
        return None
    wide = _by_judge(table, "parse_failure_rate")
    if wide is None:
        return None
    wide.iloc[:, 2:] = 1 - wide.iloc[:, 2:]
    return wide


def _by_judge(table: pd.DataFrame, values: str) -> pd.DataFrame | None:
    """`values` with one row per benchmark (and format), one column per judge and setting (None if empty)."""
    t = table.dropna(subset=[values]).copy()
    if t.empty:
        return None
    t["judge"] = t["variant"] + " " + t["voting"] + "/" + t["budget"]
    t["format"] = [get_benchmark(b).judge_format for b in t["benchmark"]]
    wide = t.pivot_table(index=["benchmark", "format"], columns="judge", values=values, aggfunc="first")
    wide = wide.reset_index()
    wide.columns.name = None
    return wide


def answer_forcing_table(table: pd.DataFrame) -> pd.DataFrame | None:
    """The share of votes answer forcing changed, laid out as `parse_rate_table`, for the evaluations that
    ran with it (None when none did)."""
    if "answer_forcing" not in table or not table["answer_forcing"].any():
        return None
    return _by_judge(table[table["answer_forcing"].astype(bool)], "answer_forcing_rate")


def parse_rates(table: pd.DataFrame) -> list[str]:
    """The parse-rate section of the markdown (`parse_rate_table`, then `answer_forcing_table`)."""
    wide = parse_rate_table(table)
    if wide is None:
        return []
    out = ["## Votes that parse", "", PARSE_RATE_NOTE, "", wide.to_markdown(index=False, floatfmt=".2f"), ""]
    forced = answer_forcing_table(table)
    if forced is not None:
        out += ["### Votes answer forcing changed", "", ANSWER_FORCING_NOTE, ""]
        out += [forced.to_markdown(index=False, floatfmt=".2f"), ""]
    return out


TRAINING_COLUMNS = (
    "judge",
    "SFT rows",
    "pair / single / batch / rescaled",
    "teacher, seeds",
    "removed as contaminated",
    "deviations from the paper's mix",
    "manifest",
)


def training_summary(table: pd.DataFrame, here: Path) -> list[dict[str, Any]]:
    """Per fine-tuned judge, what its SFT set holds (from the select stage's provenance manifest): one dict
    per judge with TRAINING_COLUMNS as keys, blanks when the manifest is missing, and `link`, the manifest's
    path relative to `here` (the folder of the page that links it; None when missing)."""
    judges = table.dropna(subset=["sft_manifest"]).drop_duplicates(["backbone", "variant"])
    out = []
    for _, row in judges.iterrows():
        path = Path(row["sft_manifest"])
        entry: dict[str, Any] = dict.fromkeys(TRAINING_COLUMNS, "")
        entry.update(judge=f"{row['backbone']}/{row['variant']}", manifest=str(path), link=None)
        if path.exists():
            m = read_json(path)
            c = m["counts"]["select"]
            entry.update(
                {
                    "SFT rows": m["rows"],
                    "pair / single / batch / rescaled": f"{c.get('selected_pair', 0)} / "
                    f"{c.get('selected_single', 0)} / {c.get('selected_batch', 0)} / {c.get('rescaled', 0)}",
                    "teacher, seeds": f"{m['teacher']}, {m['seeds']}",
                    "removed as contaminated": m["decontamination"].get("removed", 0),
                    "deviations from the paper's mix": "; ".join(m.get("deviations") or []) or "none",
                    "link": os.path.relpath(path.resolve(), here.resolve()),
                }
            )
        out.append(entry)
    return out


def training_data(table: pd.DataFrame, here: Path) -> list[str]:
    """A section linking each fine-tuned judge to the provenance manifest of its SFT set (select stage),
    by a link relative to `here` (the folder of the markdown file)."""
    judges = training_summary(table, here)
    if not judges:
        return []
    lines = [
        "## Training data",
        "",
        "| " + " | ".join(TRAINING_COLUMNS) + " |",
        "|" + "---|" * len(TRAINING_COLUMNS),
    ]
    for j in judges:
        if j["link"] is None:
            lines.append(f"| {j['judge']} | | | | | | `{j['manifest']}` (missing) |")
            continue
        cells = [str(j[c]) for c in TRAINING_COLUMNS[:-1]]
        lines.append("| " + " | ".join(cells) + f" | [`{j['manifest']}`]({j['link']}) |")
    return [*lines, ""]


def plot(table: pd.DataFrame, path: Path) -> None:
    """Bar charts of each benchmark's headline metric per judge and voting/budget setting, four per row; a
    benchmark with no value to show (e.g. every vote unparsed) gets a labelled empty panel."""
    import math

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    benches = sorted(table["benchmark"].unique())
    cols = min(4, len(benches))
    rows = math.ceil(len(benches) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.5 * cols, 3.4 * rows), squeeze=False)
    for ax in axes.flat[len(benches) :]:
        ax.axis("off")
    for ax, bench in zip(axes.flat, benches, strict=False):
        metric = get_benchmark(bench).headline
        group = table[table["benchmark"] == bench]
        ax.set_title(bench, fontsize=9)
        ax.set_ylabel(METRICS[metric].label, fontsize=8)
        values = pd.to_numeric(group[metric], errors="coerce")
        if values.notna().sum() == 0:
            failures = (
                group["parse_failure_rate"] if "parse_failure_rate" in group else pd.Series(dtype=float)
            )
            parsed = pd.to_numeric(failures, errors="coerce") < 1
            why = "the parsed scores are all equal" if parsed.any() else "no parsed votes"
            ax.text(0.5, 0.5, f"no value\n({why})", ha="center", va="center", transform=ax.transAxes)
            ax.set_xticks([])
            continue
        setting = group["voting"] + "/" + group["budget"]  # one bar per voting and budget: none averaged away
        pivot = group.assign(**{metric: values, "setting": setting}).pivot_table(
            index=["backbone", "variant"], columns="setting", values=metric, dropna=False
        )
        pivot.plot.bar(ax=ax, rot=0, legend=len(pivot.columns) > 1)
        if values.between(-1, 1).all():  # rates and correlations: the full scale, so 0 shows as 0
            ax.set_ylim(-1 if values.min() < 0 else 0, 1)
        ax.set_xlabel("")
        ax.set_xticklabels(["/".join(i) for i in pivot.index], fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
