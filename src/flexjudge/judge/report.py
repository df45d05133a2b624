"""The leaderboard's static HTML report: `index.html` with the leaderboard's tables (ours beside the
paper's, from `judge.tables`), plots, the stability of the votes, and one item viewer page per evaluation.

Everything it links lies under the report folder (plots beside index.html, `items/<evaluation>.html`,
copied or thumbnailed media under `media/`), so the folder opens through file:// and can be moved as a
whole. Model and dataset text is HTML-escaped. No script runs in the pages. rdkit (for SMILES drawings)
is imported only when a molecule is shown."""

from __future__ import annotations

import html
import logging
import math
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from flexjudge.benchmarks.molecules import question_smiles
from flexjudge.benchmarks.registry import get_benchmark
from flexjudge.core.io import read_json, read_jsonl, stable_hash
from flexjudge.data.media import IMAGE_SUFFIXES
from flexjudge.generate.budget import ANSWER_FORCING_DEVIATION
from flexjudge.judge.experiments import ExperimentTable
from flexjudge.judge.metrics import METRICS
from flexjudge.judge.stability import STABILITY, flips, item_agreement, stability, verdict
from flexjudge.judge.tables import (
    ANSWER_FORCING_NOTE,
    PAPER_NOTE,
    PARSE_RATE_NOTE,
    TRAINING_COLUMNS,
    answer_forcing_table,
    benchmark_tables,
    column_label,
    parse_rate_table,
    plot,
    training_summary,
)

log = logging.getLogger(__name__)

#: The plots written beside index.html (file name -> title); `leaderboard.png` is `tables.plot`'s.
PLOTS = {
    "leaderboard.png": "Headline metric per benchmark, judge and voting/budget setting",
    "votes.png": "Headline metric against the number of votes k",
    "budget.png": "Headline metric against the thinking budget and the mean think tokens",
    "position_bias.png": "Position bias: how often the first shown answer wins",
    "scores.png": "Predicted against human scores (score benchmarks)",
    "stability.png": "Stability: one vote against the vote, vote agreement, order flips",
}
BUDGET_ORDER = ("none", "think64", "wait1", "wait2", "wait4")
MARKERS = "osD^vP*X"
STABILITY_COLUMNS = ("accuracy", "vote_accuracy", "vote_agreement", "flip_rate", "first_shown_rate")
TEXT_CAP = 6000  # characters of one question, answer or vote shown; the rest is cut with a note


@dataclass
class Evaluation:
    """One evaluation on disk: its leaderboard row's names, metrics.json and predictions.jsonl."""

    benchmark: str
    backbone: str
    variant: str
    voting: str
    budget: str
    k: int
    folder: Path
    record: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def slug(self) -> str:
        return "-".join((self.backbone, self.variant, self.benchmark, self.voting, self.budget))

    @property
    def judge(self) -> str:
        return f"{self.backbone}/{self.variant}"

    @property
    def setting(self) -> str:
        return f"{self.voting}/{self.budget}"

    @property
    def label(self) -> str:
        return f"{self.judge} {self.setting}"

    @property
    def fmt(self) -> str:
        return self.record.get("judge_format") or get_benchmark(self.benchmark).judge_format


def load_evaluations(table: pd.DataFrame) -> list[Evaluation]:
    """The evaluations of a leaderboard table (`tables.collect`), with their records and scored rows."""
    evals = []
    for _, row in table.iterrows():
        folder = Path(row["source"]).parent
        predictions = folder / "predictions.jsonl"
        evals.append(
            Evaluation(
                *(str(row[c]) for c in ("benchmark", "backbone", "variant", "voting", "budget")),
                k=int(row["k"]),
                folder=folder,
                record=read_json(row["source"]),
                rows=read_jsonl(predictions) if predictions.exists() else [],
            )
        )
    return evals


def summary_frame(evals: list[Evaluation]) -> pd.DataFrame:
    """One row per evaluation: its names, k, headline metric, mean think tokens and stability figures."""
    rows = []
    for e in evals:
        headline = get_benchmark(e.benchmark).headline
        value = e.record["metrics"].get(headline)
        rows.append(
            {
                "benchmark": e.benchmark,
                "judge": e.judge,
                "voting": e.voting,
                "budget": e.budget,
                "k": e.k,
                "format": e.fmt,
                "headline": headline,
                "value": math.nan if value is None else float(value),
                "mean_think_tokens": (e.record.get("thinking") or {}).get("mean_think_tokens"),
                "answer_forcing": ANSWER_FORCING_DEVIATION in e.record.get("protocol_deviations", []),
                **stability(e.rows, e.record["metrics"]),
                "slug": e.slug,
            }
        )
    frame = pd.DataFrame(rows)
    for column in ("mean_think_tokens", *STABILITY_COLUMNS):
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    return frame


# ---------------------------------------------------------------- plots


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _grid(n: int, cols: int, width: float, height: float):
    plt = _pyplot()
    cols = max(1, min(cols, n))
    rows = max(1, math.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    return fig, list(axes.flat)


def _nothing(path: Path, title: str, why: str, xlabel: str, ylabel: str) -> None:
    """A labelled figure saying why there is nothing to plot (the report's files are always there)."""
    fig, (ax,) = _grid(1, 1, 6, 2.6)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.text(0.5, 0.5, why, ha="center", va="center", transform=ax.transAxes, fontsize=9)
    _save(fig, path)


def _save(fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    _pyplot().close(fig)


def _metric_label(name: str) -> str:
    return column_label(name) if name.split("@")[0] in METRICS else name


def plot_votes(frame: pd.DataFrame, path: Path) -> None:
    """Per benchmark judged at several k: its headline metric against k, one line per judge and budget;
    dashed, the expected accuracy of a single vote (where the headline is an accuracy)."""
    benches = [b for b, g in frame.groupby("benchmark") if g["k"].nunique() > 1]
    title = PLOTS[path.name]
    if not benches:
        return _nothing(
            path, title, "no benchmark was judged at more than one k", "votes per item (k)", "metric"
        )
    fig, axes = _grid(len(benches), 3, 4.6, 3.4)
    for ax, bench in zip(axes, benches, strict=False):
        group = frame[frame["benchmark"] == bench].sort_values("k")
        headline = group["headline"].iloc[0]
        for (judge, budget), line in group.groupby(["judge", "budget"]):
            (drawn,) = ax.plot(line["k"], line["value"], marker="o", label=f"{judge} {budget}")
            if "accuracy" in headline and line["vote_accuracy"].notna().any():
                ax.plot(line["k"], line["vote_accuracy"], ls="--", marker=".", color=drawn.get_color())
        ax.set_title(f"{bench}: {headline} against k", fontsize=9)
        ax.set_xlabel("votes per item (k)")
        ax.set_ylabel(_metric_label(headline))
        ax.set_xticks(sorted(group["k"].unique()))
        ax.legend(fontsize=7)
    fig.suptitle(title + "\n(solid: after voting; dashed: expected accuracy of one vote)", fontsize=10)
    _save(fig, path)


def _budget_rank(budget: str) -> tuple[int, str]:
    return (BUDGET_ORDER.index(budget) if budget in BUDGET_ORDER else len(BUDGET_ORDER), budget)


def plot_budget(frame: pd.DataFrame, path: Path) -> None:
    """Per benchmark judged under several budgets: its headline metric against the budget (left) and
    against the mean think tokens of its votes (right), one line per judge and voting setting. Runs under
    answer forcing are left out: it is not a point on the thinking-budget axis."""
    if "answer_forcing" in frame:
        frame = frame[~frame["answer_forcing"].astype(bool)]
    benches = [b for b, g in frame.groupby("benchmark") if g["budget"].nunique() > 1]
    title = PLOTS[path.name]
    if not benches:
        why = "no benchmark was judged under more than one thinking budget"
        return _nothing(path, title, why, "thinking budget", "metric")
    fig, axes = _grid(2 * len(benches), 2, 5.0, 3.4)
    for i, bench in enumerate(benches):
        left, right = axes[2 * i], axes[2 * i + 1]
        group = frame[frame["benchmark"] == bench]
        budgets = sorted(group["budget"].unique(), key=_budget_rank)
        headline = group["headline"].iloc[0]
        for (judge, voting), line in group.groupby(["judge", "voting"]):
            line = line.assign(at=[budgets.index(b) for b in line["budget"]]).sort_values("at")
            (drawn,) = left.plot(line["at"], line["value"], marker="o", label=f"{judge} {voting}")
            tokens = line.dropna(subset=["mean_think_tokens"])
            right.plot(tokens["mean_think_tokens"], tokens["value"], color=drawn.get_color(), lw=1)
            for _, point in tokens.iterrows():  # the budget by the marker's shape
                marker = MARKERS[budgets.index(point["budget"]) % len(MARKERS)]
                right.plot(point["mean_think_tokens"], point["value"], marker=marker, color=drawn.get_color())
        left.set_xticks(range(len(budgets)), budgets)
        left.set_title(f"{bench}: against the budget", fontsize=9)
        left.set_xlabel("thinking budget")
        left.set_ylabel(_metric_label(headline))
        left.legend(fontsize=7)
        right.set_title(f"{bench}: against think tokens", fontsize=9)
        right.set_xlabel("mean think tokens per vote")
        right.set_ylabel(_metric_label(headline))
        if group["mean_think_tokens"].isna().all():
            right.text(0.5, 0.5, "no think-token counts", ha="center", va="center", transform=right.transAxes)
        else:
            shapes = [
                right.plot([], [], ls="", marker=MARKERS[i % len(MARKERS)], color="grey", label=b)[0]
                for i, b in enumerate(budgets)
            ]
            right.legend(handles=shapes, fontsize=7, title="budget", title_fontsize=7)
    fig.suptitle(title, fontsize=10)
    _save(fig, path)


def plot_position_bias(frame: pd.DataFrame, path: Path) -> None:
    """One bar per evaluation: the share of parsed votes with a winner that chose the first shown answer."""
    shown = frame.dropna(subset=["first_shown_rate"])
    title = PLOTS[path.name]
    xlabel = "share of votes choosing the first shown answer"
    if shown.empty:
        return _nothing(path, title, "no parsed vote with a winner", xlabel, "evaluation")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 1.4 + 0.24 * len(shown)))
    labels = [f"{r.benchmark} · {r.judge} {r.voting}/{r.budget}" for r in shown.itertuples()]
    ax.barh(range(len(shown)), shown["first_shown_rate"], color="#4878a8")
    for i, v in enumerate(shown["first_shown_rate"]):
        ax.text(v + 0.01, i, f"{v:.2f}", va="center", fontsize=7)
    ax.axvline(0.5, color="#c44", ls="--")
    ax.set_yticks(range(len(shown)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel(xlabel + "\n(dashed: 0.5, no preference between two answers)")
    ax.set_ylabel("evaluation (benchmark · judge setting)")
    ax.set_title(title, fontsize=10)
    _save(fig, path)


def plot_scores(evals: list[Evaluation], path: Path) -> None:
    """Per score-benchmark evaluation: each item's voted score against its human (gold) score."""
    scored = [e for e in evals if e.fmt == "score" and e.rows]
    title = PLOTS[path.name]
    if not scored:
        return _nothing(path, title, "no score benchmark evaluated", "human score (gold)", "predicted score")
    fig, axes = _grid(len(scored), 4, 3.6, 3.2)
    for ax, e in zip(axes, scored, strict=False):
        pairs = [(float(r["gold"]), float(r["prediction"])) for r in e.rows if r["prediction"] is not None]
        ax.set_title(f"{e.benchmark}\n{e.label}", fontsize=8)
        ax.set_xlabel("human score (gold)", fontsize=8)
        ax.set_ylabel("predicted score (voted)", fontsize=8)
        unscored = len(e.rows) - len(pairs)
        if not pairs:
            ax.text(
                0.5,
                0.5,
                f"no parsed score\n({unscored} items)",
                ha="center",
                va="center",
                transform=ax.transAxes,
            )
            continue
        gold, predicted = zip(*pairs, strict=True)
        ax.scatter(gold, predicted, s=14, alpha=0.7)
        low, high = min(*gold, *predicted), max(*gold, *predicted)
        ax.plot([low, high], [low, high], ls=":", color="grey", lw=1)
        r = e.record["metrics"].get("pearson")
        note = f"Pearson {r:.2f}" if r is not None and r == r else "Pearson n/a"
        ax.text(0.02, 0.98, f"{note}; {unscored} unscored", va="top", transform=ax.transAxes, fontsize=7)
    fig.suptitle(title + "\n(dotted: predicted = human)", fontsize=10)
    _save(fig, path)


def plot_stability(frame: pd.DataFrame, path: Path) -> None:
    """A heat map, one row per verdict or ranking evaluation: consensus accuracy, expected accuracy of one
    vote, vote agreement and order flips."""
    columns = ["accuracy", "vote_accuracy", "vote_agreement", "flip_rate"]
    shown = frame[frame["format"] != "score"].dropna(subset=columns, how="all")
    title = PLOTS[path.name]
    if shown.empty:
        return _nothing(path, title, "no verdict or ranking evaluation", "figure", "evaluation")
    plt = _pyplot()
    values = shown[columns].to_numpy(dtype=float)
    fig, ax = plt.subplots(figsize=(8, 1.6 + 0.26 * len(shown)))
    image = ax.imshow(values, aspect="auto", cmap="viridis", vmin=0, vmax=1)
    for (i, j), v in pd.DataFrame(values).stack(future_stack=True).items():
        text = "–" if v != v else f"{v:.2f}"
        ax.text(
            j, i, text, ha="center", va="center", fontsize=7, color="black" if v != v or v >= 0.6 else "white"
        )
    names = ["consensus\naccuracy", "one vote's\naccuracy", "vote\nagreement", "flip rate\n(both orders)"]
    ax.set_xticks(range(len(columns)), names, fontsize=8)
    ax.set_yticks(
        range(len(shown)),
        [f"{r.benchmark} · {r.judge} {r.voting}/{r.budget}" for r in shown.itertuples()],
        fontsize=7,
    )
    ax.set_xlabel("figure (– : not defined for this evaluation)")
    ax.set_ylabel("evaluation (benchmark · judge setting)")
    ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax, label="share (0–1)")
    _save(fig, path)


# ---------------------------------------------------------------- media


class MediaCopier:
    """Copies or thumbnails media into <report>/media/ once each, returning the HTML that shows them by
    links relative to the page (`prefix`: the way from the page's folder to the report folder)."""

    THUMB = (320, 320)
    VIDEO_FRAMES = 8

    def __init__(self, root: Path):
        self.root = root
        self.folder = root / "media"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.done: dict[str, str] = {}

    def _name(self, *parts: Any, suffix: str) -> tuple[str, Path]:
        name = stable_hash(*parts) + suffix
        return name, self.folder / name

    def html(self, part: dict[str, Any], prefix: str) -> str:
        kind, raw = part.get("type"), part.get("path")
        path = Path(str(raw))
        if kind not in ("image", "video", "audio") or not raw:
            return f'<span class="missing">unknown media part {_e(part)}</span>'
        if not path.exists():
            return f'<span class="missing">{_e(kind)} missing: {_e(raw)}</span>'
        key = f"{kind}:{path.resolve()}"
        if key not in self.done:
            try:
                self.done[key] = getattr(self, f"_{kind}")(path, part)
            except Exception as exc:  # a broken file must not stop the report
                log.warning("report: cannot show %s %s: %s", kind, path, exc)
                return f'<span class="missing">{_e(kind)} unreadable: {_e(raw)} ({_e(exc)})</span>'
        name = self.done[key]
        src = f"{prefix}media/{name}"
        if kind == "audio":
            return f'<audio controls preload="none" src="{_e(src)}"></audio>'
        caption = "video, sampled frames" if kind == "video" else "image"
        return (
            f'<a href="{_e(src)}"><img src="{_e(src)}" alt="{caption}: {_e(path.name)}" loading="lazy"></a>'
        )

    def _stamp(self, path: Path) -> tuple[str, int, int]:
        stat = path.stat()
        return str(path.resolve()), stat.st_size, stat.st_mtime_ns

    def _image(self, path: Path, part: dict[str, Any]) -> str:
        from PIL import Image

        name, out = self._name("image", self._stamp(path), self.THUMB, suffix=".png")
        if not out.exists():
            with Image.open(path) as img:
                img.seek(0)
                thumb = img.convert("RGB")
                thumb.thumbnail(self.THUMB)
                thumb.save(out)
        return name

    def _video(self, path: Path, part: dict[str, Any]) -> str:
        """A folder of frames or an animated GIF/WebP as an animated GIF of a few sampled frames; other
        containers are copied as they are (shown as an image link)."""
        from PIL import Image

        name, out = self._name("video", self._stamp(path), self.THUMB, suffix=".gif")
        if out.exists():
            return name
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            picked = files[:: max(1, math.ceil(len(files) / self.VIDEO_FRAMES))]
            frames = []
            for f in picked:
                with Image.open(f) as img:
                    frames.append(img.convert("RGB"))
        else:
            with Image.open(path) as img:
                n = getattr(img, "n_frames", 1)
                frames = []
                for i in range(0, n, max(1, math.ceil(n / self.VIDEO_FRAMES))):
                    img.seek(i)
                    frames.append(img.convert("RGB"))
        if not frames:
            raise ValueError("no frames")
        for frame in frames:
            frame.thumbnail(self.THUMB)
        frames[0].save(out, save_all=True, append_images=frames[1:], duration=400, loop=0)
        return name

    def _audio(self, path: Path, part: dict[str, Any]) -> str:
        name, out = self._name("audio", self._stamp(path), suffix=path.suffix.lower())
        if not out.exists():
            shutil.copyfile(path, out)
        return name

    def molecule(self, smiles: str, prefix: str) -> str:
        """A drawing of a SMILES (rdkit), or a note when rdkit cannot draw it."""
        key = f"smiles:{smiles}"
        if key not in self.done:
            try:
                from rdkit import Chem
                from rdkit.Chem import Draw

                mol = Chem.MolFromSmiles(smiles)
                if mol is None:
                    raise ValueError("rdkit cannot parse it")
                name, out = self._name("smiles", smiles, suffix=".png")
                if not out.exists():
                    Draw.MolToImage(mol, size=(300, 220)).save(out)
                self.done[key] = name
            except Exception as exc:  # rdkit missing or the SMILES unreadable: the text still shows
                return f'<span class="missing">no drawing of the SMILES ({_e(exc)})</span>'
        src = f"{prefix}media/{self.done[key]}"
        return f'<img class="mol" src="{_e(src)}" alt="molecule {_e(smiles)}">'


# ---------------------------------------------------------------- html


CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1300px;padding:0 18px 40px;color:#222}
h1{margin:18px 0 4px}h2{border-bottom:1px solid #ccc;padding-bottom:3px;margin-top:34px}
table{border-collapse:collapse;margin:8px 0 14px;font-size:12.5px}
th,td{border:1px solid #d4d4d4;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f1f3f5}td.num{text-align:right;font-variant-numeric:tabular-nums}
.note{color:#555;font-size:13px}.missing{color:#a33;font-size:12px}
figure{margin:10px 0 22px}figure img{max-width:100%;border:1px solid #ddd}figcaption{color:#444;font-size:13px}
.figs{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:14px}
nav{display:flex;flex-wrap:wrap;gap:4px 12px}figure.wide{grid-column:1/-1}.wide-table{overflow-x:auto;max-width:100%}pre{white-space:pre-wrap;word-break:break-word;background:#f7f7f7;padding:6px;margin:4px 0}
.item{border:1px solid #ccc;border-radius:6px;padding:8px 12px;margin:14px 0}
.item img{max-height:220px;margin:3px}.media{display:flex;flex-wrap:wrap;gap:6px;align-items:center}
.flip{background:#fde2b4;color:#7a4a00;border-radius:4px;padding:1px 6px;font-weight:600}
.ok{color:#1a7f37}.bad{color:#b42318}.answers{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:10px}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _forcing(vote: dict[str, Any]) -> str:
    """What answer forcing did to a vote, for its row on an item page ("" when nothing)."""
    done = [f"tag text written {vote['forced_answers']}×"] if vote.get("forced_answers") else []
    done += ["cut at the tag count"] if vote.get("answer_cut") else []
    return f" (answer forcing: {', '.join(done)})" if done else ""


def _cap(text: str, cap: int = TEXT_CAP) -> str:
    return text if len(text) <= cap else text[:cap] + f"\n… ({len(text) - cap} more characters)"


def _page(title: str, body: list[str]) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{_e(title)}</title>\n'
        f"<style>{CSS}</style>\n</head>\n<body>\n" + "\n".join(body) + "\n</body>\n</html>\n"
    )


def _table(frame: pd.DataFrame, digits: int = 3) -> str:
    """A DataFrame as an escaped HTML table (numbers to `digits` places, blanks for missing values)."""
    head = "".join(f"<th>{_e(c)}</th>" for c in frame.columns)
    body = []
    for row in frame.itertuples(index=False):
        cells = []
        for v in row:
            if isinstance(v, float):
                cells.append(f'<td class="num">{"" if v != v else f"{v:.{digits}f}"}</td>')
            elif isinstance(v, int) and not isinstance(v, bool):
                cells.append(f'<td class="num">{v}</td>')
            else:
                cells.append(f"<td>{'' if v is None else _e(v)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<div class="wide-table"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def _anchor(name: str) -> str:
    return "b-" + "".join(c if c.isalnum() else "-" for c in name)


def _stability_table(frame: pd.DataFrame) -> pd.DataFrame:
    shown = frame[["judge", "voting", "budget", "k", *STABILITY_COLUMNS, "mean_think_tokens"]].copy()
    labels = {c: (STABILITY[c].label if c in STABILITY else column_label(c)) for c in STABILITY_COLUMNS}
    labels["accuracy"] = "consensus accuracy ↑"
    labels["mean_think_tokens"] = "mean think tokens"
    return shown.rename(columns=labels)


def _markdown_html(text: str) -> str:
    """Our own summaries' markdown (molreport's summary.md: headings, pipe tables, bullets, paragraphs) as
    escaped HTML."""
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if not line:
            i += 1
        elif line.startswith("#"):
            level = min(len(line) - len(line.lstrip("#")) + 1, 4)  # one below the page's own h2
            out.append(f"<h{level}>{_e(line.lstrip('#').strip())}</h{level}>")
            i += 1
        elif line.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].strip().startswith("|"):
                cells = [c.strip() for c in lines[i].strip().strip("|").split("|")]
                if not all(set(c) <= set("-: ") for c in cells):  # the |---| rule
                    rows.append(cells)
                i += 1
            head = "".join(f"<th>{_e(c)}</th>" for c in rows[0])
            body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in r) + "</tr>" for r in rows[1:])
            out.append(
                f'<div class="wide-table"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'
            )
        elif line.startswith("- "):
            items = []
            while i < len(lines) and lines[i].strip().startswith("- "):
                items.append(f"<li>{_e(lines[i].strip()[2:])}</li>")
                i += 1
            out.append("<ul>" + "".join(items) + "</ul>")
        else:
            para = []
            while i < len(lines) and lines[i].strip() and not lines[i].strip().startswith(("#", "|", "- ")):
                para.append(lines[i].strip())
                i += 1
            out.append(f'<p class="note">{_e(" ".join(para))}</p>')
    return "\n".join(out)


def molecule_html(summaries: list[Path], out: Path) -> list[str]:
    """One section per molecular task (molreport's summary.md and its two plots, which the leaderboard stage
    copied to out/molecules/)."""
    body = []
    for path in summaries:
        task = Path(path).parent.name
        figures = [
            (
                f"molecules/{task}-bestofn.png",
                "best-of-N accuracy against N, each judge, with the random-pick and oracle lines",
            ),
            (
                f"molecules/{task}-summary.png",
                "the policy's accuracy before and after DPO on each judge's pairs",
            ),
        ]
        body += [
            f'<h2 id="{_anchor("molecules-" + task)}">Molecular application: {_e(task)}</h2>',
            '<div class="figs">',
            *(
                f'<figure><a href="{n}"><img src="{n}" alt="{_e(t)}"></a><figcaption>{_e(t)}</figcaption></figure>'
                for n, t in figures
                if (out / n).exists()
            ),
            "</div>",
            _markdown_html((Path(path).parent / "summary.md").read_text(encoding="utf-8")),
        ]
    return body


def _index(
    table: pd.DataFrame,
    reference: pd.DataFrame | None,
    frame: pd.DataFrame,
    out: Path,
    items: dict[str, int],
    molecules: list[Path] = (),
    experiments: Sequence[ExperimentTable] = (),
) -> str:
    benches = benchmark_tables(table, reference)
    body = [
        "<h1>flexjudge leaderboard</h1>",
        f'<p class="note">{len(frame)} evaluations of {frame["benchmark"].nunique()} benchmarks, rebuilt from '
        "<code>results/eval/**/metrics.json</code> and <code>predictions.jsonl</code> by "
        "<code>python -m flexjudge.leaderboard</code> (<code>make report</code>). "
        + _e(PAPER_NOTE).replace("**paper**", "<b>paper</b>")
        + ' Also: <a href="leaderboard.md">leaderboard.md</a>, <a href="leaderboard.csv">leaderboard.csv</a>.</p>',
        '<nav><a href="#plots">plots</a><a href="#parse">votes that parse</a>'
        + "".join(f'<a href="#{_anchor(b.name)}">{_e(b.name)}</a>' for b in benches)
        + "".join(
            f'<a href="#{_anchor("molecules-" + Path(m).parent.name)}">molecules: {_e(Path(m).parent.name)}</a>'
            for m in molecules
        )
        + "".join(f'<a href="#{_anchor(t.anchor)}">{_e(t.title)}</a>' for t in experiments)
        + '<a href="#training">training data</a><a href="#metrics">metrics</a></nav>',
        '<h2 id="plots">Plots</h2>',
        '<div class="figs">',
        *(
            f'<figure{" class=wide" if n == "leaderboard.png" else ""}><a href="{n}"><img src="{n}" '
            f'alt="{_e(t)}"></a><figcaption>{_e(t)}</figcaption></figure>'
            for n, t in PLOTS.items()
        ),
        "</div>",
    ]
    wide = parse_rate_table(table)
    if wide is not None:
        body += [
            '<h2 id="parse">Votes that parse</h2>',
            f'<p class="note">{_e(PARSE_RATE_NOTE)}</p>',
            _table(wide, 2),
        ]
    forced = answer_forcing_table(table)
    if forced is not None:
        body += [
            "<h3>Votes answer forcing changed</h3>",
            f'<p class="note">{_e(ANSWER_FORCING_NOTE)}</p>',
            _table(forced, 2),
        ]
    for b in benches:
        rows = frame[frame["benchmark"] == b.name]
        body += [
            f'<h2 id="{_anchor(b.name)}">{_e(b.name)}</h2>',
            f'<p class="note">{_e(b.description)}</p>',
            _table(b.ours),
        ]
        if not b.paper.empty:
            body += [f"<p>Paper ({_e(b.paper_key)}):</p>", _table(b.paper)]
        body += ["<p>Stability of the votes:</p>", _table(_stability_table(rows))]
        links = [
            f'<li><a href="items/{_e(r.slug)}.html">{_e(r.judge)} {_e(r.voting)}/{_e(r.budget)}</a> '
            f"({items.get(r.slug, 0)} items)</li>"
            for r in rows.itertuples()
        ]
        body += ["<p>Items (question, answers, media, every vote):</p>", "<ul>" + "".join(links) + "</ul>"]
    body += molecule_html(list(molecules), out)
    for t in experiments:
        body += [
            f'<h2 id="{_anchor(t.anchor)}">{_e(t.title)}</h2>',
            f'<p class="note">{_e(t.note)}</p>',
            _table(t.ours),
        ]
        if not t.paper.empty:
            body += ["<p>Paper:</p>", _table(t.paper)]
    judges = training_summary(table, out)
    if judges:
        body += ['<h2 id="training">Training data</h2>']
        head = "".join(f"<th>{_e(c)}</th>" for c in TRAINING_COLUMNS)
        lines = []
        for j in judges:
            manifest = (
                f'<a href="{_e(j["link"])}"><code>{_e(j["manifest"])}</code></a>'
                if j["link"]
                else f"<code>{_e(j['manifest'])}</code> (missing)"
            )
            lines.append(
                "<tr>"
                + "".join(f"<td>{_e(j[c])}</td>" for c in TRAINING_COLUMNS[:-1])
                + f"<td>{manifest}</td></tr>"
            )
        body.append(
            f'<div class="wide-table"><table><thead><tr>{head}</tr></thead><tbody>{"".join(lines)}</tbody></table></div>'
        )
    body += ['<h2 id="metrics">Metrics</h2>', "<ul>"]
    body += [
        f"<li><b>{_e(m.label)}</b>: {_e(m.description)}</li>"
        for m in (*METRICS.values(), *STABILITY.values())
    ]
    body.append("</ul>")
    return _page("flexjudge leaderboard", body)


def _value(value: Any) -> str:
    if isinstance(value, dict):
        return f"{value['ranking']} (scores {', '.join(f'{s:g}' for s in value['scores'])})"
    return "—" if value is None else str(value)


def _letters(order: list[int]) -> str:
    """Which dataset answer is shown at each position, e.g. 'B, A' for the reversed pair."""
    return ", ".join(chr(ord("A") + i) for i in order)


def _item_html(row: dict[str, Any], item: Any, media: MediaCopier) -> str:
    flip = flips(row)
    agreement = item_agreement(row)
    right = verdict(row["prediction"]) == row["gold"] if isinstance(row["gold"], str) else None
    head = [f"<b>{_e(row['id'])}</b>"]
    if row.get("subset"):
        head.append(f"subset {_e(row['subset'])}")
    head.append(f"gold <b>{_e(row['gold'])}</b>")
    mark = "" if right is None else (' <span class="ok">✓</span>' if right else ' <span class="bad">✗</span>')
    head.append(f"voted <b>{_e(_value(row['prediction']))}</b>{mark}")
    if len(row.get("per_view") or []) > 1:
        head.append("per order " + " / ".join(_e(_value(v)) for v in row["per_view"]))
    if agreement is not None:
        head.append(f"vote agreement {agreement:.2f}")
    if flip:
        head.append('<span class="flip">flips with the answer order</span>')
    parts = [f'<div class="item" id="{_e(row["id"])}">', "<p>" + " · ".join(head) + "</p>"]
    if item is None:
        parts.append(
            '<p class="missing">the item itself (question, answers, media) was not found in the benchmark data</p>'
        )
    else:
        smiles = question_smiles(item.question)
        shown = [media.html(p, "../") for p in item.media]
        if smiles:
            shown.append(media.molecule(smiles, "../"))
        parts.append("<p><b>Question</b></p>")
        if shown:
            parts.append('<div class="media">' + "".join(shown) + "</div>")
        parts.append(f"<pre>{_e(_cap(item.question))}</pre>")
        answers = []
        for i, answer in enumerate(item.answers):
            own = [media.html(p, "../") for p in (item.answer_media[i] if item.answer_media else ())]
            letter = chr(ord("A") + i) if len(item.answers) > 1 else ""
            answers.append(
                f"<div><b>Answer {letter}</b>"
                + ('<div class="media">' + "".join(own) + "</div>" if own else "")
                + f"<pre>{_e(_cap(answer))}</pre></div>"
            )
        parts.append('<div class="answers">' + "".join(answers) + "</div>")
    lines = []
    for v in row["votes"]:
        status = "parsed" if v.get("failure") is None else f"unparsed: {v['failure']}"
        tokens = f"{v.get('n_tokens')} ({v.get('think_tokens') or '–'} thinking)"
        lines.append(
            f"<tr><td>{v['view']}</td><td>{_e(_letters(v['order']))}</td><td>{v['run']}</td>"
            f"<td>{_e(_value(v['shown']))}</td><td>{_e(_value(v['value']))}</td>"
            f'<td class="{"ok" if v.get("failure") is None else "bad"}">{_e(status)}</td>'
            f"<td>{_e(tokens)}{' forced close' if v.get('forced_close') else ''}{_forcing(v)}</td>"
            f"<td><details><summary>reasoning and answer</summary><pre>{_e(_cap(v.get('text') or ''))}</pre>"
            "</details></td></tr>"
        )
    parts.append(
        "<table><thead><tr><th>order</th><th>shown A, B, …</th><th>vote</th><th>verdict as shown</th>"
        "<th>in dataset order</th><th>parse</th><th>tokens</th><th>text</th></tr></thead>"
        f"<tbody>{''.join(lines)}</tbody></table></div>"
    )
    return "\n".join(parts)


class ItemSource:
    """The benchmark items behind evaluations, read once per benchmark configuration from each
    evaluation's config.json (the same adapter and files as its run)."""

    def __init__(self):
        self.cache: dict[str, dict[str, Any]] = {}

    def items(self, e: Evaluation, ids: list[str]) -> dict[str, Any]:
        config = e.folder / "config.json"
        if not config.exists():
            return {}
        cfg = read_json(config)
        limit = cfg.get("limit")
        for attempt in dict.fromkeys([len(ids) if limit is None else min(limit, len(ids)), limit]):
            key = stable_hash(cfg["benchmark"], cfg["paths"]["results"], attempt)
            if key not in self.cache:
                self.cache[key] = self._load(cfg, attempt)
            found = self.cache[key]
            if all(i in found for i in ids):
                break
        return found

    def _load(self, cfg: dict[str, Any], limit: int | None) -> dict[str, Any]:
        from omegaconf import OmegaConf

        from flexjudge.benchmarks.loading import load_configured

        try:
            loaded = load_configured(OmegaConf.create(cfg["benchmark"]), cfg["paths"]["results"], limit)
        except Exception as exc:  # data moved or gone: the votes still show
            log.warning("report: cannot read the items of %s: %s", cfg["benchmark"].get("name"), exc)
            return {}
        return {item.id: item for item in loaded.items}


def _items_page(
    e: Evaluation, frame_row: dict[str, Any], items: dict[str, Any], media: MediaCopier, cap: int
) -> str:
    shown = e.rows[:cap]
    flipped = sum(bool(flips(r)) for r in e.rows)
    two_orders = sum(flips(r) is not None for r in e.rows)
    headline = frame_row["headline"]
    value = frame_row["value"]
    facts = [
        f"{len(e.rows)} items, k = {e.k}, format {e.fmt}",
        f"{headline} {'n/a' if value != value else f'{value:.3f}'}",
    ]
    if two_orders:
        facts.append(f"{flipped} of {two_orders} items judged in both orders flip")
    body = [
        '<p><a href="../index.html">← leaderboard</a></p>',
        f"<h1>{_e(e.benchmark)}: {_e(e.label)}</h1>",
        f'<p class="note">{_e("; ".join(facts))}. Showing the first {len(shown)} items. Source: '
        f"<code>{_e(e.folder)}</code>.</p>",
    ]
    body += [_item_html(r, items.get(r["id"]), media) for r in shown]
    return _page(f"{e.benchmark} {e.label}", body)


def build_report(
    table: pd.DataFrame,
    reference: pd.DataFrame | None,
    out: Path,
    items_per_eval: int = 20,
    molecules: list[Path] = (),
    experiments: Sequence[ExperimentTable] = (),
) -> Path:
    """Write index.html, its plots, items/<evaluation>.html (the first `items_per_eval` items of each
    evaluation) and media/ under `out`; the items/ and media/ folders are rebuilt from scratch. `molecules`:
    the molecular application's summary.json files, one section each; `experiments`: the paper's
    experiment sections (`judge.experiments`)."""
    out.mkdir(parents=True, exist_ok=True)
    for owned in ("items", "media"):
        shutil.rmtree(out / owned, ignore_errors=True)
    (out / "items").mkdir()
    evals = load_evaluations(table)
    frame = summary_frame(evals)
    plot(table, out / "leaderboard.png")
    plot_votes(frame, out / "votes.png")
    plot_budget(frame, out / "budget.png")
    plot_position_bias(frame, out / "position_bias.png")
    plot_scores(evals, out / "scores.png")
    plot_stability(frame, out / "stability.png")
    media = MediaCopier(out)
    source = ItemSource()
    counts = {}
    for e, row in zip(evals, frame.to_dict("records"), strict=True):
        ids = [r["id"] for r in e.rows[:items_per_eval]]
        page = _items_page(e, row, source.items(e, ids) if ids else {}, media, items_per_eval)
        (out / "items" / f"{e.slug}.html").write_text(page, encoding="utf-8")
        counts[e.slug] = len(ids)
    index = out / "index.html"
    index.write_text(_index(table, reference, frame, out, counts, molecules, experiments), encoding="utf-8")
    log.info("report: %d evaluations -> %s", len(evals), index)
    return index
