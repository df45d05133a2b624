"""The best-of-N curves' table and plot (the bestofn stage writes them; molreport quotes the table)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def to_markdown(curves: dict[str, dict[str, Any]]) -> str:
    """One table: N, each judge's best-of-N accuracy (mean ± std over trials), then the random and oracle lines."""
    first = next(iter(curves.values()))
    head = ["N", *curves, "random pick", "oracle"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for i, p in enumerate(first["points"]):
        cells = [str(p["n"])]
        cells += [
            f"{c['points'][i]['judge_mean']:.3f} ± {c['points'][i]['judge_std']:.3f}" for c in curves.values()
        ]
        cells += [f"{p['random_mean']:.3f}", f"{p['oracle_mean']:.3f} ± {p['oracle_std']:.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    n, sets, trials = first["n_questions"], first["sets"], first["trials"]
    lines.append(f"\n{n} molecules, {sets} candidate sets, {trials} trials per N (mean ± std over trials).")
    return "\n".join(lines) + "\n"


def plot(curves: dict[str, dict[str, Any]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    first = next(iter(curves.values()))
    ns = [p["n"] for p in first["points"]]
    for name, c in curves.items():
        ys = [p["judge_mean"] for p in c["points"]]
        err = [p["judge_std"] for p in c["points"]]
        ax.errorbar(ns, ys, yerr=err, marker="o", capsize=3, label=f"best-of-N: {name}")
    ax.plot(ns, [p["random_mean"] for p in first["points"]], "k--", label="random pick (policy)")
    ax.plot(ns, [p["oracle_mean"] for p in first["points"]], "k:", label="oracle")
    ax.set_xscale("log", base=2)
    ax.set_xticks(ns, [str(n) for n in ns])
    ax.set_xlabel("N (candidates per molecule)")
    ax.set_ylabel("accuracy")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
