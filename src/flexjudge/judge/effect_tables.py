"""The effect experiment's table and plot: the statistics of `judge.comparison` for the control and the
treated judge, with their bootstrap CIs and the paired difference."""

from __future__ import annotations

from pathlib import Path
from typing import Any

LABELS = {
    "parse_rate": "parse rate (votes)",
    "accuracy": "accuracy (unparsed = wrong)",
    "accuracy_parsed": "accuracy over items with a verdict",
    "accuracy_decisive": "accuracy over A/B verdicts (ties left out)",
    "verdict_rate": "items with a verdict",
    "tie_rate": "items judged a tie (equal scores)",
    "consistency": "both-orders consistency",
    "consistency_parsed": "consistency, both orders parsed",
}


SHORT = {
    "parse_rate": "parse rate\n(votes)",
    "accuracy": "accuracy\n(unparsed = wrong)",
    "accuracy_parsed": "accuracy\n(items with a verdict)",
    "consistency": "consistency\n(both orders)",
}


def _fmt(value: float, ci: list[float] | None = None) -> str:
    if value != value:  # nan
        return "n/a"
    text = f"{value:.3f}"
    if ci and ci[0] == ci[0]:
        text += f" [{ci[0]:.3f}, {ci[1]:.3f}]"
    return text


def to_markdown(result: dict[str, Any], names: dict[str, str]) -> str:
    """One table per vote budget: each statistic for both judges and the paired difference, with CIs."""
    lines = [
        f"Effect of fine-tuning on `{result['benchmark']}` ({result['n_items']} items, budget "
        f"`{result['budget']}`, {result['n_boot']} bootstrap resamples; 95% CIs in brackets).",
        "",
    ]
    for k_label, block in result["by_k"].items():
        lines += [
            f"**{k_label}**",
            "",
            f"| statistic | {names['control']} | {names['treated']} | {names['treated']} − {names['control']} (paired) |",
            "|---|---|---|---|",
        ]
        for stat, row in block["statistics"].items():
            lines.append(
                f"| {LABELS[stat]} | {_fmt(row['control'], row['control_ci95'])} | "
                f"{_fmt(row['treated'], row['treated_ci95'])} | "
                f"{_fmt(row['difference'], row['difference_ci95'])} |"
            )
        for side in ("control", "treated"):
            chance = block[f"{side}_vs_chance"]
            lines.append(
                f"| accuracy > 0.5? ({names[side]}) | all items: p = {_fmt(chance['accuracy_p'])}, "
                f"clears chance: {'yes' if chance['accuracy_clears_chance'] else 'no'} | over verdicts: "
                f"p = {_fmt(chance['accuracy_parsed_p'])}, clears chance: "
                f"{'yes' if chance['accuracy_parsed_clears_chance'] else 'no'} | |"
            )
        lines.append("")
    lines.append(
        "p: one-sided exact binomial test against 0.5; 'clears chance' means the lower end of the 95% CI "
        "is above 0.5."
    )
    return "\n".join(lines) + "\n"


def plot(result: dict[str, Any], names: dict[str, str], path: Path) -> None:
    """Bars with 95% CIs: each statistic, both judges, side by side for each vote budget."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    stats = ["parse_rate", "accuracy", "accuracy_parsed", "consistency"]
    blocks = list(result["by_k"].items())
    fig, axes = plt.subplots(1, len(blocks), figsize=(6 * len(blocks), 4), sharey=True, squeeze=False)
    for ax, (k_label, block) in zip(axes[0], blocks, strict=True):
        x = np.arange(len(stats))
        for j, side in enumerate(("control", "treated")):
            values = [block["statistics"][s][side] for s in stats]
            cis = [block["statistics"][s][f"{side}_ci95"] for s in stats]
            err = np.array(
                [
                    [v - c[0], c[1] - v] if v == v and c[0] == c[0] else [0, 0]
                    for v, c in zip(values, cis, strict=True)
                ]
            ).T
            offset = x + (j - 0.5) * 0.38
            ax.bar(offset, np.nan_to_num(values), 0.38, yerr=err, capsize=3, label=names[side])
            for xi, v in zip(offset, values, strict=True):
                if v != v:  # undefined (e.g. no item got a verdict)
                    ax.text(xi, 0.02, "n/a", ha="center", fontsize=7)
        ax.axhline(0.5, color="grey", lw=0.8, ls="--")
        ax.set_xticks(x, [SHORT[s] for s in stats], fontsize=8)
        ax.set_ylim(0, 1.05)
        ax.set_title(f"{result['benchmark']}, {k_label}")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
