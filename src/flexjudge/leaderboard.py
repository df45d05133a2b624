"""Stage `leaderboard`: rebuild csv/md tables, plots and the HTML report (index.html, `judge.report`) from every
results/eval/**/metrics.json and predictions.jsonl on disk."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig

from flexjudge.core.app import stage_main, stage_run
from flexjudge.judge.experiments import experiment_tables, experiments_markdown
from flexjudge.judge.report import build_report
from flexjudge.judge.tables import collect, to_markdown

log = logging.getLogger(__name__)


def molecule_sections(summaries, out: Path) -> str:
    """The molecular application's summaries (molreport's summary.md, its plots copied beside the
    leaderboard), one section per task; empty when the application did not run."""
    import shutil

    parts = []
    for path in summaries or []:
        folder = Path(path).parent
        task = folder.name
        (out / "molecules").mkdir(exist_ok=True)
        for name, src in (("summary", folder / "summary.png"), ("bestofn", folder / "bestofn" / "curve.png")):
            if src.exists():
                shutil.copyfile(src, out / "molecules" / f"{task}-{name}.png")
        body = (folder / "summary.md").read_text(encoding="utf-8").replace("## ", "### ")
        parts.append(
            f"\n## Molecular application: {task}\n\n![best-of-N](molecules/{task}-bestofn.png) "
            f"![DPO](molecules/{task}-summary.png)\n\n{body}"
        )
    return "".join(parts)


def run(cfg: DictConfig) -> pd.DataFrame:
    """Write leaderboard.csv, leaderboard.md and under cfg.out_dir the HTML report: index.html, its plots
    (leaderboard.png and the others of `judge.report.PLOTS`), items/ and media/."""
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with stage_run(cfg, "leaderboard") as st:
        table = collect(cfg.eval_root)
        table.to_csv(out / "leaderboard.csv", index=False)
        reference = pd.read_csv(cfg.paper_results) if cfg.paper_results else pd.DataFrame()
        experiments = experiment_tables(table, list(cfg.retention or []), reference)
        text = to_markdown(table, reference, out, experiments_markdown(experiments))
        text += molecule_sections(cfg.molecules, out)
        (out / "leaderboard.md").write_text(text, encoding="utf-8")
        build_report(
            table, reference, out, cfg.report_items, [Path(m) for m in cfg.molecules or []], experiments
        )
        if st.tracker.active:
            import wandb

            st.tracker.log(
                {"leaderboard": wandb.Table(dataframe=table.drop(columns=["source", "sft_manifest"]))}
            )
    log.info("leaderboard: %d rows -> %s", len(table), out)
    return table


main = stage_main("leaderboard")(run)

if __name__ == "__main__":
    main()
