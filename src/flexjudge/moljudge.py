"""Stage `moljudge`: a judge on a policy's molecule answers.

mode=score: every answer scored 1.0-10.0 with one decimal against the task's rubric, greedy, one vote
(best-of-N reads these: `bestofn`). mode=pairs: two answers per molecule (e.g. sampled at T 0.8 and T 1.2)
compared in both orders, a score each (format pair_scores), and a pair kept only if the same answer wins
both times (flexjudge.apply.selection.agreeing_pairs; DPO reads these). A judge that takes molecules gets
each molecule as <mol> embeddings; every judge reads the SMILES in the question. The controls run the same
code on the simulated backend: the oracle (error 0, scoring by the gold: a right answer 10, a wrong or
unparsed one 1) and the random judge (`hide_gold`: shown no gold, each score uniform on the scale).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from flexjudge.apply.judge import Judge, JudgeOptions
from flexjudge.apply.policy import FINAL
from flexjudge.apply.selection import agreeing_pairs
from flexjudge.backbones.loader import takes_molecules
from flexjudge.benchmarks.molecules import RIGHT, WRONG, molecule_question
from flexjudge.core.app import stage_main, stage_run
from flexjudge.core.io import DataError, read_jsonl, write_json, write_jsonl
from flexjudge.data.molecules import read_molecules
from flexjudge.data.schemas import JudgeItem

log = logging.getLogger(__name__)


def shown_answer(response: str, show_label: bool) -> str:
    """The answer as the judge sees it: whole (the paper), or cut before "Final answer:" (the official code)."""
    if show_label:
        return response
    return response.split(FINAL, 1)[0].rstrip() or response


def question(smiles: str, prompt: str, rubric: str) -> str:
    return f"{molecule_question(smiles, prompt)}\n\n[Judge by]\n{rubric.strip()}"


def score_items(cfg, answers, smiles, molecule_part) -> list[JudgeItem]:
    """One score item per answer (gold 10.0 right / 1.0 wrong; None with hide_gold)."""
    items = []
    for a in answers:
        drug = str(a["Drug_ID"])
        items.append(
            JudgeItem(
                f"{drug}-{a['sample']}",
                question(smiles[drug], a["prompt"], cfg.moltask.rubric),
                (shown_answer(a["response"], cfg.show_label),),
                None if cfg.hide_gold else (RIGHT if a["correct"] else WRONG),
                media=({"type": "molecule", "smiles": smiles[drug]},) if molecule_part else (),
                group=drug,
            )
        )
    return items


def pair_items(cfg, first, second, smiles, molecule_part) -> list[JudgeItem]:
    """One pair item per molecule: its answer from each file (gold: the right one; tie when both or neither is)."""
    by_drug = {str(a["Drug_ID"]): a for a in second if int(a["sample"]) == 0}
    items = []
    for a in (x for x in first if int(x["sample"]) == 0):
        drug = str(a["Drug_ID"])
        if drug not in by_drug:
            raise DataError(
                f"{cfg.pair_answers[1]}: no answer for molecule {drug} (it is in {cfg.pair_answers[0]})"
            )
        b = by_drug[drug]
        gold = "tie" if a["correct"] == b["correct"] else ("A" if a["correct"] else "B")
        items.append(
            JudgeItem(
                drug,
                question(smiles[drug], a["prompt"], cfg.moltask.rubric),
                (shown_answer(a["response"], cfg.show_label), shown_answer(b["response"], cfg.show_label)),
                None if cfg.hide_gold else gold,
                media=({"type": "molecule", "smiles": smiles[drug]},) if molecule_part else (),
                group=drug,
            )
        )
    return items


def run(cfg: DictConfig) -> dict[str, Any]:
    """mode=score: out_dir/scored.jsonl + report.json; mode=pairs: out_dir/pairs.jsonl + report.json."""
    from flexjudge.backbones.loader import read_manifest

    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with stage_run(cfg, "moljudge", torch_threads=True):
        simulated = cfg.backend.name == "simulated"
        manifest = None if simulated else Path(cfg.judge)
        molecule_part = False if simulated else takes_molecules(read_manifest(manifest), cfg.molecule_part)
        judge = Judge(
            str(cfg.judge), cfg.backend, manifest, Path(cfg.cache) if cfg.cache else None, cfg.progress
        )
        smiles = {str(r["Drug_ID"]): r["Drug"] for r in read_molecules(cfg.molecules)}
        common = dict(
            k=1, temperature=0.0, max_new_tokens=cfg.max_new_tokens, max_think_tokens=cfg.max_think_tokens
        )
        if cfg.mode == "score":
            answers = read_jsonl(cfg.answers)
            items = score_items(cfg, answers, smiles, molecule_part)
            options = JudgeOptions(format="score", scale=(1.0, 10.0), decimals=1, order="original", **common)
            rows, summary = judge.judge_items(items, options)
            scored = [
                {**a, "score": r["verdict"], "judge_votes": r["votes"]}
                for a, r in zip(answers, rows, strict=True)
            ]
            write_jsonl(out / "scored.jsonl", scored)
            report = {"mode": "score", "answers": len(scored), **_summary(summary)}
        elif cfg.mode == "pairs":
            if len(cfg.pair_answers) != 2:
                raise ValueError(f"mode=pairs needs two pair_answers files, got {list(cfg.pair_answers)}")
            first, second = (read_jsonl(p) for p in cfg.pair_answers)
            items = pair_items(cfg, first, second, smiles, molecule_part)
            options = JudgeOptions(format="pair_scores", order="both", **common)
            rows, summary = judge.judge_items(items, options)
            judged = []
            for item, r in zip(items, rows, strict=True):
                orders = {"ab": None, "ba": None}
                for v in r["votes"]:
                    orders["ab" if list(v["order_shown"]) == [0, 1] else "ba"] = v["scores"]
                judged.append(
                    {
                        "id": item.id,
                        "Drug_ID": item.id,
                        "prompt": item.question,
                        "responses": list(item.answers),
                        "orders": orders,
                        "gold": item.gold,
                    }
                )
            pairs, counts = agreeing_pairs(judged)
            by_id = {a["Drug_ID"]: a for a in first if int(a["sample"]) == 0}
            for p in pairs:  # the policy's own prompt and whole answers (the judge may have seen them cut)
                p["prompt"] = by_id[p["Drug_ID"]]["prompt"]
                p["smiles"] = smiles[p["Drug_ID"]]
            write_jsonl(out / "pairs.jsonl", pairs)
            right = [p for p in pairs if p["gold"] in ("A", "B")]
            report = {
                "mode": "pairs",
                "molecules": len(items),
                **counts,
                "kept_decided_by_gold": len(right),
                "kept_chosen_right": sum(p["gold"] == "AB"[p["chosen_index"]] for p in right),
                **_summary(summary),
            }
        else:
            raise ValueError(f"mode={cfg.mode!r}: score or pairs")
        who = (
            f"simulated (error {cfg.backend.error_rate}, {'no gold: random' if cfg.hide_gold else 'scores by the gold'})"
            if simulated
            else str(cfg.judge)
        )
        report["molecule_part"] = molecule_part  # whether the judge read each molecule as <mol> embeddings
        write_json(out / "report.json", {"judge": who, "backend": cfg.backend.name, **report})
    log.info("moljudge: %s", report)
    return report


def _summary(summary: dict[str, Any]) -> dict[str, Any]:
    keep = (
        "parse_rate",
        "parse_failures",
        "flip_rate",
        "tie_rate",
        "mean_score",
        "votes_generated",
        "votes_cached",
    )
    return {k: summary[k] for k in keep if k in summary}


main = stage_main("moljudge")(run)

if __name__ == "__main__":
    main()
