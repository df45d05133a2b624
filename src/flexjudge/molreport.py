"""Stage `molreport`: the molecular application's summary. The policy's greedy accuracy on the test molecules
before DPO and after DPO on each judge's pairs (an unparsed answer counts wrong), with bootstrap 95 % CIs and
a paired bootstrap CI of after minus before; each judge's pair counts; the best-of-N table; and the paper's
numbers (Fig. 4: Mol-LLaMA 72.48 → best-of-16 77.49 → DPO 80.10 with the task-info prompt) beside them.
With `before_sampled` / `after_sampled` (the candidates draw of each policy) it also gives the sampled
accuracy, N answers per molecule, before and after, with the same paired bootstrap over molecules.
Writes summary.json, summary.md and summary.png."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig

from flexjudge.core.app import stage_main, stage_run
from flexjudge.core.io import read_json, read_jsonl, write_json
from flexjudge.judge.bestofn_tables import to_markdown as curve_markdown

log = logging.getLogger(__name__)


def per_molecule(rows: list[dict]) -> dict[str, float]:
    """Each molecule's accuracy over its answers: 0/1 for one greedy answer, the share right of N samples."""
    right: dict[str, list[float]] = {}
    for r in rows:
        right.setdefault(str(r["Drug_ID"]), []).append(float(r["correct"]))
    return {k: float(np.mean(v)) for k, v in right.items()}


def paired_accuracy(before: list[dict], after: list[dict], *, n_boot: int, seed: int) -> dict[str, Any]:
    """Accuracy of each side with its CI and the paired after-minus-before difference with its CI; molecules
    are resampled (a molecule with N sampled answers counts once, at its share right)."""
    b_of, a_of = per_molecule(before), per_molecule(after)
    if set(a_of) != set(b_of):
        raise ValueError("before and after answered different molecules")
    ids = list(b_of)
    b = np.array([b_of[i] for i in ids])
    a = np.array([a_of[i] for i in ids])
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(b), size=(n_boot, len(b)))
    ci = lambda x: [float(v) for v in np.quantile(x, [0.025, 0.975])]  # noqa: E731
    return {
        "before": float(b.mean()),
        "before_ci95": ci(b[idx].mean(1)),
        "after": float(a.mean()),
        "after_ci95": ci(a[idx].mean(1)),
        "difference": float(a.mean() - b.mean()),
        "difference_ci95": ci(a[idx].mean(1) - b[idx].mean(1)),
        "parse_rate_after": float(np.mean([r["prediction"] is not None for r in after])),
        "answers_per_molecule": len(after) / len(ids),
    }


def paper_rows(path: str | None) -> list[dict[str, Any]]:
    """The paper's PAMPA rows of reference/paper_results.csv (Fig. 4), as {setting, model, value, source}."""
    if not path:
        return []
    import pandas as pd

    ref = pd.read_csv(path)
    rows = ref[ref["benchmark"] == "pampa"]
    return [
        {"setting": r.subset, "model": r.model, "value": float(r.value), "source": r.source}
        for r in rows.itertuples()
    ]


def accuracy_cells(r: dict[str, Any]) -> str:
    """A paired_accuracy result as table cells: before, after, after − before (each with its CI), parse rate."""
    return (
        f"{r['before']:.3f} [{r['before_ci95'][0]:.3f}, {r['before_ci95'][1]:.3f}] | {r['after']:.3f} "
        f"[{r['after_ci95'][0]:.3f}, {r['after_ci95'][1]:.3f}] | {r['difference']:+.3f} "
        f"[{r['difference_ci95'][0]:+.3f}, {r['difference_ci95'][1]:+.3f}] | {r['parse_rate_after']:.2f}"
    )


def to_markdown(s: dict[str, Any]) -> str:
    lines = [
        f"## {s['task']}: the policy before and after DPO ({s['n_molecules']} test molecules, greedy)",
        "",
        "| DPO pairs judged by | pairs kept | accuracy before | after | after − before (95 % CI) | parse rate after |",
        "|---|---|---|---|---|---|",
    ]
    for judge, r in s["dpo"].items():
        lines.append(f"| {judge} | {r['pairs']['kept']} of {r['pairs']['molecules']} | {accuracy_cells(r)} |")
    sampled = {j: r["sampled"] for j, r in s["dpo"].items() if r.get("sampled")}
    if sampled:
        n = next(iter(sampled.values()))["answers_per_molecule"]
        lines += [
            "",
            f"### Sampled: {n:.0f} answers per molecule at the candidates' temperature (a molecule counts once, "
            "at its share right)",
            "",
            "| DPO pairs judged by | accuracy before | after | after − before (95 % CI) | parse rate after |",
            "|---|---|---|---|---|",
        ]
        lines += [f"| {judge} | {accuracy_cells(r)} |" for judge, r in sampled.items()]
    lines += ["", "## Best-of-N", "", s["bestofn_md"]]
    if s["paper"]:
        lines += ["## The paper (PAMPA, Mol-LLaMA-8B policy, FLEX-Mol-LLaMA judge)", ""]
        lines += [f"- {p['setting']} {p['model']}: {p['value']:.2f} % ({p['source']})" for p in s["paper"]]
    return "\n".join(lines) + "\n"


def plot(s: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.0, 3.2))
    names = list(s["dpo"])
    x = np.arange(len(names))
    for offset, side in ((-0.18, "before"), (0.18, "after")):
        vals = [s["dpo"][n][side] for n in names]
        lo = [v - s["dpo"][n][f"{side}_ci95"][0] for n, v in zip(names, vals, strict=True)]
        hi = [s["dpo"][n][f"{side}_ci95"][1] - v for n, v in zip(names, vals, strict=True)]
        ax.bar(x + offset, vals, 0.34, yerr=[lo, hi], capsize=3, label=f"{side} DPO")
    ax.set_xticks(x, [f"pairs by\n{n}" for n in names])
    ax.set_ylabel("policy accuracy (greedy)")
    ax.set_ylim(0, 1)
    ax.set_title(f"{s['task']}: DPO on judge-built pairs", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(cfg: DictConfig) -> dict[str, Any]:
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if not cfg.after or set(cfg.after) != set(cfg.pairs or {}):
        raise ValueError(
            "after and pairs: give {judge: file} for the same judges (the policy after DPO, the pairs)"
        )
    with stage_run(cfg, "molreport"):
        before = read_jsonl(cfg.before)
        sampled_after = cfg.get("after_sampled") or {}
        if sampled_after and (not cfg.before_sampled or set(sampled_after) != set(cfg.after)):
            raise ValueError("after_sampled needs before_sampled and the same judges as after")
        before_sampled = read_jsonl(cfg.before_sampled) if sampled_after else None
        dpo = {}
        for judge, path in cfg.after.items():
            dpo[judge] = {
                **paired_accuracy(before, read_jsonl(path), n_boot=cfg.n_boot, seed=cfg.seed),
                "pairs": read_json(cfg.pairs[judge]),
            }
            if before_sampled is not None:
                dpo[judge]["sampled"] = paired_accuracy(
                    before_sampled, read_jsonl(sampled_after[judge]), n_boot=cfg.n_boot, seed=cfg.seed
                )
        curve = read_json(cfg.curve)
        summary = {
            "task": cfg.task,
            "n_molecules": len(before),
            "dpo": dpo,
            "bestofn": curve["judges"],
            "bestofn_md": curve_markdown(curve["judges"]),
            "paper": paper_rows(cfg.paper_results),
        }
        write_json(out / "summary.json", summary)
        (out / "summary.md").write_text(to_markdown(summary), encoding="utf-8")
        plot(summary, out / "summary.png")
    log.info("molreport: %s", {j: (round(r["before"], 3), round(r["after"], 3)) for j, r in dpo.items()})
    return summary


main = stage_main("molreport")(run)

if __name__ == "__main__":
    main()
