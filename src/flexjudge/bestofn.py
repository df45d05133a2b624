"""Stage `bestofn`: best-of-N curves from judge-scored candidate sets (flexjudge.apply.selection.best_of_n):
N = 1…S, `trials` random draws of N of the S sets each, the judge's pick beside a random pick and the oracle.
Writes curve.json, curve.md and curve.png (all judges of one policy on one plot)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from flexjudge.apply.selection import best_of_n
from flexjudge.core.app import stage_main, stage_run
from flexjudge.core.io import read_jsonl, write_json

log = logging.getLogger(__name__)


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


def run(cfg: DictConfig) -> dict[str, Any]:
    """Write out_dir/curve.{json,md,png} for every judge in cfg.scored ({judge: scored.jsonl})."""
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if not cfg.scored:
        raise ValueError(
            "scored: give {judge name: scored.jsonl, ...} (the moljudge stage's mode=score outputs)"
        )
    with stage_run(cfg, "bestofn"):
        curves = {
            name: best_of_n(read_jsonl(path), list(cfg.ns), trials=cfg.trials, seed=cfg.seed)
            for name, path in cfg.scored.items()
        }
        write_json(out / "curve.json", {"judges": curves, "scored": dict(cfg.scored)})
        (out / "curve.md").write_text(to_markdown(curves), encoding="utf-8")
        plot(curves, out / "curve.png", cfg.title)
    log.info("bestofn: %s", {k: round(c["points"][-1]["judge_mean"], 3) for k, c in curves.items()})
    return curves


main = stage_main("bestofn")(run)

if __name__ == "__main__":
    main()
