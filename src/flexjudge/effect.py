"""Stage `effect`: the method's effect on one benchmark: a fine-tuned judge against its base, item by item.

Reads both judges' predictions.jsonl (same items, same votes and budget), compares them at k votes and at
k = 1 (each view's first vote) with bootstrap CIs and a paired bootstrap of the difference
(flexjudge.judge.comparison), and writes effect.json, effect.md and effect.png.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from flexjudge.core.app import stage_main, stage_run
from flexjudge.core.io import read_json, read_jsonl, write_json
from flexjudge.judge.comparison import STATISTICS, compare, outcomes
from flexjudge.judge.effect_tables import plot, to_markdown

log = logging.getLogger(__name__)


def run(cfg: DictConfig) -> dict[str, Any]:
    """Compare the treated judge with the control on the same items; write effect.{json,md,png}."""
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = {"control": cfg.control.name, "treated": cfg.treated.name}
    with stage_run(cfg, "effect") as st:
        rows = {side: list(read_jsonl(cfg[side].predictions)) for side in ("control", "treated")}
        metrics = {side: read_json(Path(cfg[side].predictions).with_name("metrics.json")) for side in rows}
        ks = {metrics[side]["k"] for side in rows}
        if len(ks) != 1:
            raise ValueError(f"the two judges ran with different k: {ks}")
        k = ks.pop()
        by_k = {}
        for label, runs in ((f"k = {k}", None), ("k = 1 (first vote of each order)", 1)):
            by_k[label] = compare(
                outcomes(rows["control"], runs),
                outcomes(rows["treated"], runs),
                n_boot=cfg.n_boot,
                seed=cfg.seed,
            )
        result = {
            "benchmark": metrics["control"]["benchmark"],
            "budget": metrics["control"]["budget"],
            "k": k,
            "n_items": len(rows["control"]),
            "n_boot": cfg.n_boot,
            "judges": {
                side: {"name": names[side], "predictions": str(cfg[side].predictions)} for side in rows
            },
            "by_k": by_k,
        }
        write_json(out / "effect.json", result)
        (out / "effect.md").write_text(to_markdown(result, names), encoding="utf-8")
        plot(result, names, out / "effect.png")
        first = next(iter(by_k.values()))["statistics"]
        st.tracker.summary(
            {f"{s}_{side}": first[s][side] for s in STATISTICS for side in ("control", "treated")}
        )
    log.info(
        "effect: %s", {s: (round(first[s]["control"], 3), round(first[s]["treated"], 3)) for s in STATISTICS}
    )
    return result


main = stage_main("effect")(run)

if __name__ == "__main__":
    main()
