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
from flexjudge.judge.bestofn_tables import plot, to_markdown

log = logging.getLogger(__name__)


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
