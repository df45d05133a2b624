"""Stage `retention`: a backbone's VQA answering accuracy on TextVQA or OK-VQA (issue #18 part 4, the paper's
Table 11: whether fine-tuning the judge's LLM costs the backbone its answering).

Each question is asked once, greedily, without the think opening, through the same judging engine and
per-vote cache as evaluation; the reply's answer (`protocol.vqa.parse_answer`) is scored with the VQA v2
soft accuracy; replies with no answer score 0 and are counted by reason. Writes predictions.jsonl and
metrics.json to out_dir."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig

from flexjudge.benchmarks.base import Source, load_benchmark
from flexjudge.benchmarks.vqa import VQA_DATASETS
from flexjudge.core.app import stage_main, stage_run
from flexjudge.core.io import write_json, write_jsonl
from flexjudge.generate.engine import SamplingParams
from flexjudge.judge.metrics import bootstrap_ci
from flexjudge.protocol.vqa import answer_messages, parse_answer, vqa_scores

log = logging.getLogger(__name__)


def run(cfg: DictConfig) -> dict[str, Any]:
    """Answer every question, score the answers, write predictions.jsonl and metrics.json."""
    from flexjudge.backbones.inputs import MediaSettings
    from flexjudge.generate.session import JudgeSession

    if cfg.dataset not in VQA_DATASETS:
        raise ValueError(
            f"dataset={cfg.dataset!r}: choose one of {sorted(VQA_DATASETS)} (conf/retention.yaml)"
        )
    if cfg.data is None:
        raise ValueError("retention: set data=<the release file or folder> (layouts: docs/benchmarks.md)")
    data, out = Path(cfg.data), Path(cfg.out_dir)
    root = Path(cfg.media_root) if cfg.media_root else (data if data.is_dir() else data.parent)
    with stage_run(cfg, "retention", f"retention-{cfg.variant}-{cfg.dataset}", torch_threads=True) as st:
        source = Source(data, root, out / "media", on_missing=cfg.on_missing)
        loaded = load_benchmark(VQA_DATASETS[cfg.dataset][0], source, limit=cfg.limit)
        items = loaded.items
        if not items:
            raise ValueError(f"retention: no questions read from {data}")
        session = JudgeSession(cfg.judge, cfg.backend)
        gens, manifest, counts = session.votes(
            [answer_messages(i.question, i.media) for i in items],
            SamplingParams(max_new_tokens=cfg.max_new_tokens, seed=cfg.seed),
            media=[i.media for i in items],
            media_settings=MediaSettings(image_max_pixels=cfg.image_max_pixels),
            prefill_think=False,
            cache=cfg.cache,
            desc=f"retention {cfg.dataset}",
            progress=cfg.progress,
        )
        parsed = [parse_answer(gen.text) for (gen,) in gens]
        scores = vqa_scores([answer for answer, _ in parsed], [i.answers for i in items])
        failures = Counter(failure for _, failure in parsed if failure)
        rows = [
            {
                "id": item.id,
                "question": item.question,
                "answers": list(item.answers),
                "output": gen.text,
                "answer": answer,
                "failure": failure,
                "accuracy": score,
            }
            for item, (gen,), (answer, failure), score in zip(items, gens, parsed, scores, strict=True)
        ]
        low, high = (
            bootstrap_ci(lambda s: float(np.mean(s)), scores, n_boot=cfg.bootstrap)
            if cfg.bootstrap
            else (None, None)
        )
        metrics = {
            "dataset": cfg.dataset,
            "variant": cfg.variant,
            "judge": manifest.get("name"),
            "backbone": manifest.get("backbone"),
            "vqa_accuracy": float(np.mean(scores)),
            "ci95": [low, high],
            "n_items": len(rows),
            "unanswered_rate": sum(failures.values()) / len(rows),
            "unanswered": dict(failures),
            "skipped_missing_media": loaded.skipped,
            "votes": {"total": counts.total, "cached": counts.cached, "generated": counts.generated},
        }
        write_jsonl(out / "predictions.jsonl", rows)
        write_json(out / "metrics.json", metrics)
        st.tracker.summary({f"retention/{k}": v for k, v in metrics.items() if isinstance(v, int | float)})
    log.info(
        "retention %s (%s): VQA accuracy %.3f on %d questions",
        cfg.dataset,
        cfg.variant,
        metrics["vqa_accuracy"],
        len(rows),
    )
    return metrics


main = stage_main("retention")(run)

if __name__ == "__main__":
    main()
