"""Stage `sample`: a teacher scores both answers of every pool row, at low temperature, once per seed.

The teacher (by default the backbone itself: on-policy) answers in the pair-score format the paper's
teacher uses, '<think>…</think><answer>s1</answer><answer>s2</answer>' on 1–10, with generation started
inside <think>. Votes go through the generation engine and its per-vote cache, so a rerun or a resumed
run generates only what is missing. Rows where no seed agrees with the gold can be rationalized: the
gold scores (or, for a pool without scores, `preference_scores`) are shown as a hint, the teacher's
reasoning is kept and closed with those scores (origin `rationalized`; `flexjudge.generate.teacher`).
The select stage filters.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from flexjudge.core.app import stage_main, stage_run
from flexjudge.core.io import write_json, write_jsonl
from flexjudge.data.pools import iter_pool
from flexjudge.generate.teacher import sample_teacher

log = logging.getLogger(__name__)


def run(cfg: DictConfig) -> dict[str, Any]:
    """Sample every pool row once per seed, rationalize where enabled; write samples.jsonl and report.json."""
    out = Path(cfg.out_dir)
    with stage_run(cfg, "sample", f"sample-{cfg.teacher}", torch_threads=True) as st:
        rows = list(iter_pool(cfg.pool))[: cfg.limit]
        got = sample_teacher(cfg, rows)
        count = got.count
        write_jsonl(out / "samples.jsonl", got.records)
        report = {
            "teacher": cfg.teacher,
            "teacher_weights": str(got.manifest["weights"]) if rows else None,
            "seeds": list(cfg.seeds),
            "temperature": cfg.temperature,
            "top_p": cfg.top_p,
            "max_new_tokens": cfg.max_new_tokens,
            "budget": cfg.budget.name,
            "pool_rows": len(rows),
            "samples_on_policy": len(rows) * len(cfg.seeds),
            "samples_agreeing": count["agreeing"],
            "samples_disagreeing": count["disagreeing"],
            "samples_unparsed": count["unparsed"],
            "samples_from_cache": count["cached"],
            "rows_with_agreeing_sample": len(got.agreeing),
            "rationalized": count["rationalized"],
            "rationales_empty": count["rationales_empty"],
            "rationales_trimmed": count["rationales_trimmed"],
            "seconds": st.seconds(),
        }
        write_json(out / "report.json", report)
        st.tracker.summary({k: v for k, v in report.items() if isinstance(v, int | float)})
    log.info("sample: %s", report)
    return report


main = stage_main("sample")(run)

if __name__ == "__main__":
    main()
