"""Stage `policy`: a policy model answers a molecule task's questions, n samples per molecule, and each
answer's label is parsed (flexjudge.apply.policy: prompt types, the "Final answer:" continuation, the parse
rule). Writes answers.jsonl (one row per answer) and report.json (parse rate, accuracy with a bootstrap CI).
Answers are cached per sample, so reruns and resumed runs generate only what is missing.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from flexjudge.apply.policy import Sampling, Task, answer_summary, sample_answers
from flexjudge.backbones.loader import takes_molecules
from flexjudge.core.app import stage_main, stage_run
from flexjudge.core.io import write_json, write_jsonl
from flexjudge.data.molecules import read_molecules
from flexjudge.judge.metrics import bootstrap_ci

log = logging.getLogger(__name__)


def accuracy_ci(rows: list[dict[str, Any]], seed: int) -> list[float]:
    """95 % bootstrap interval of the accuracy (answers resampled)."""
    right = [float(r["correct"]) for r in rows]
    return list(bootstrap_ci(lambda xs: sum(xs) / len(xs), right, n_boot=2000, seed=seed))


def run(cfg: DictConfig) -> dict[str, Any]:
    """Write out_dir/answers.jsonl and out_dir/report.json."""
    from flexjudge.backbones.loader import read_manifest
    from flexjudge.generate.session import JudgeSession

    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with stage_run(cfg, "policy", torch_threads=True):
        task = Task.from_conf(cfg.moltask)
        molecules = read_molecules(cfg.molecules)
        manifest = read_manifest(cfg.policy)
        sampling = Sampling(cfg.n, cfg.temperature, cfg.top_p, cfg.seed, cfg.max_new_tokens, cfg.final_tokens)
        molecule_part = takes_molecules(manifest, cfg.molecule_part)
        rows, counts = sample_answers(
            JudgeSession(cfg.policy, cfg.backend),
            task,
            molecules,
            cfg.prompt_type,
            sampling,
            molecule_part=molecule_part,
            smiles_in_text=cfg.smiles_in_text,
            cache=cfg.cache,
            progress=cfg.progress,
        )
        write_jsonl(out / "answers.jsonl", rows)
        report = {
            "policy": str(cfg.policy),
            "task": task.name,
            "prompt_type": cfg.prompt_type,
            "molecules": len(molecules),
            "molecule_part": molecule_part,  # whether the policy read each molecule as <mol> embeddings
            "sampling": {"n": cfg.n, "temperature": cfg.temperature, "top_p": cfg.top_p, "seed": cfg.seed},
            **answer_summary(rows),
            "accuracy_ci95": accuracy_ci(rows, cfg.seed),
            **{f"votes_{k}": v for k, v in counts.items()},
        }
        write_json(out / "report.json", report)
    log.info("policy: accuracy %.3f, parse rate %.3f", report["accuracy"], report["parse_rate"])
    return report


main = stage_main("policy")(run)

if __name__ == "__main__":
    main()
