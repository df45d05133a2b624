"""Stage `select`: teacher samples → the SFT set (filters and format mix of `data.selection`), with a
provenance manifest beside it: counts after every filter of curate, sample and select, the teacher and
its seeds, the config hash, the hashes of every input file, and length statistics."""

from __future__ import annotations

import logging
from dataclasses import fields
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from flexjudge.core.app import stage_main, stage_run
from flexjudge.core.io import read_json, read_jsonl, sha256_file, stable_hash, write_json, write_jsonl
from flexjudge.data.pools import iter_pool
from flexjudge.data.selection import SelectionConfig, select

log = logging.getLogger(__name__)


def token_counter(judge_manifest: str):
    """Token counts with the teacher's tokenizer (the paper's thresholds are in tokens)."""
    from flexjudge.backbones.loader import load_tokenizer, read_manifest

    tokenizer = load_tokenizer(read_manifest(judge_manifest))

    def count(texts: list[str]) -> list[int]:
        if not texts:
            return []
        return [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]

    return count


def selection_config(cfg: DictConfig) -> SelectionConfig:
    """The selection's settings, each field read from conf/select.yaml by its name."""
    return SelectionConfig(**{f.name: cfg[f.name] for f in fields(SelectionConfig)})


def deviations(cfg: DictConfig) -> list[str]:
    """What this SFT set does that the paper's format mix does not (shown by the leaderboard)."""
    found = []
    if cfg.batch_share:
        found.append(
            f"batch_share {cfg.batch_share}: batch-ranking items (3 to {cfg.batch_size} replies: the pair plus "
            "replies from other conversations, scored below it) are added to the paper's single-score and "
            "pairwise mix"
        )
    if cfg.score_line:
        found.append(
            "score_line: every rationale ends with a line naming each reply's score ('Scores: A 8, B 3.'), "
            "written by select, not the teacher"
        )
    return found


def run(cfg: DictConfig) -> dict[str, Any]:
    """Write sft.jsonl and manifest.json to out_dir."""
    out = Path(cfg.out_dir)
    with stage_run(cfg, "select", f"select-{cfg.name}") as st:
        plain = st.config
        pool = {row.id: row for row in iter_pool(cfg.pool)}
        samples = read_jsonl(cfg.samples)
        rows, stats = select(pool, samples, selection_config(cfg), token_counter(cfg.tokenizer))
        if not rows:
            raise ValueError(
                f"select: no SFT rows from {cfg.samples} ({stats['counts']}); lower min_pair_tokens / "
                "min_single_tokens, add seeds, or enable sample.rationalize"
            )
        write_jsonl(out / "sft.jsonl", rows)
        curate = read_json(cfg.curate_manifest)
        report = read_json(cfg.sample_report)
        manifest = {
            "sft": str(out / "sft.jsonl"),
            "sft_sha256": sha256_file(out / "sft.jsonl"),
            "rows": len(rows),
            "counts": {"curate": curate["counts"], "sample": report, "select": stats["counts"]},
            "teacher": report["teacher"],
            "teacher_weights": report["teacher_weights"],
            "seeds": report["seeds"],
            "deviations": deviations(cfg),
            "lengths": stats["lengths"],
            "config": plain,
            "config_sha256": stable_hash("select", plain, curate["config_sha256"]),
            "inputs": {
                "source": curate["inputs"],
                "pool": sha256_file(cfg.pool),
                "samples": sha256_file(cfg.samples),
                "curate_manifest": sha256_file(cfg.curate_manifest),
            },
            "decontamination": curate["decontamination"],
        }
        write_json(out / "manifest.json", manifest)
        st.tracker.summary({f"select/{k}": v for k, v in stats["counts"].items()})
    log.info("select: %d rows (%s)", len(rows), stats["counts"])
    return manifest


main = stage_main("select")(run)

if __name__ == "__main__":
    main()
