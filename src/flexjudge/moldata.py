"""Stage `moldata`: a molecule task's labelled molecules, split into train and test CSVs.

`moltask.source=rdkit_chembl` reads ChEMBL assay CHEMBL2321810 from the rdkit wheel (BSD-3; pIC50 >= 7.0
is label 1); a path reads a TDC-layout file (Drug_ID, Drug = SMILES, Y = 1/0; .csv, or tab-separated .tab),
e.g. TDC's PAMPA_NCATS. Every SMILES is checked with rdkit (file:line named). The splits are disjoint and
seeded; with `balanced` each has as many 1s as 0s.
"""

from __future__ import annotations

import csv
import logging
import random
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from flexjudge.core.app import stage_main, stage_run
from flexjudge.core.io import DataError, write_json

log = logging.getLogger(__name__)


def chembl_rows() -> list[dict[str, Any]]:
    """The rdkit wheel's ChEMBL assay as task rows (Drug_ID, Drug, Y, pIC50)."""
    from flexjudge.benchmarks.synthetic.molecules import ACTIVE_PIC50, rdkit_assay_files

    smi, act = rdkit_assay_files()
    smiles = dict(reversed(line.split()) for line in smi.read_text().splitlines() if line.strip())
    with open(act, newline="") as fh:
        pic50 = {row["Name"]: float(row["Act"]) for row in csv.DictReader(fh)}
    return [
        {"Drug_ID": d, "Drug": smiles[d], "Y": int(pic50[d] >= ACTIVE_PIC50), "pIC50": f"{pic50[d]:.2f}"}
        for d in sorted(set(smiles) & set(pic50))
    ]


def tdc_rows(path: Path) -> list[dict[str, Any]]:
    """A TDC-layout file's rows, each checked (Drug_ID unique, SMILES parsed by rdkit, Y 0 or 1)."""
    from rdkit import Chem, RDLogger

    from flexjudge.benchmarks.base import csv_rows, need

    if not path.exists():
        raise DataError(
            f"moltask.source={path}: no such file; give a TDC-layout .csv/.tab (Drug_ID, Drug, Y)"
        )
    RDLogger.DisableLog("rdApp.*")
    rows, seen = [], set()
    for where, row in csv_rows(path, delimiter="\t" if path.suffix in (".tab", ".tsv") else ","):
        drug = str(need(row, "Drug_ID", (str, int), where)).strip()
        if drug in seen:
            raise DataError(f"{where}: Drug_ID {drug!r} appears twice")
        seen.add(drug)
        smiles = need(row, "Drug", str, where).strip()
        if Chem.MolFromSmiles(smiles) is None:
            raise DataError(f"{where}: field 'Drug' {smiles!r} is not a SMILES rdkit can parse")
        y = str(row.get("Y", "")).strip()
        if y not in ("0", "1", "0.0", "1.0"):
            raise DataError(f"{where}: field 'Y' must be 1 (high) or 0 (low-to-moderate), got {y!r}")
        rows.append({**row, "Drug_ID": drug, "Drug": smiles, "Y": int(float(y))})
    return rows


def split(rows: list[dict[str, Any]], train: int, test: int, *, balanced: bool, seed: int):
    """Disjoint seeded train/test draws (balanced: half label 1 in each)."""
    rng = random.Random(f"moldata/{seed}")
    if not balanced:
        if train + test > len(rows):
            raise DataError(f"train_size + test_size = {train + test} > the task's {len(rows)} molecules")
        drawn = rng.sample(rows, train + test)
        return drawn[:train], drawn[train:]
    by = {y: [r for r in rows if r["Y"] == y] for y in (0, 1)}
    for y, pool in by.items():
        rng.shuffle(pool)
        need_ = (train + 1) // 2 + (test + 1) // 2
        if len(pool) < need_:
            raise DataError(f"balanced splits need {need_} molecules of label {y}; the task has {len(pool)}")
    out = []
    for size, start in ((train, 0), (test, (train + 1) // 2)):
        ones, zeros = by[1][start : start + (size + 1) // 2], by[0][start : start + size // 2]
        part = [r for pair in zip(ones, zeros, strict=False) for r in pair] + ones[len(zeros) :]
        out.append(part[:size])
    return out[0], out[1]


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    fields = list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def run(cfg: DictConfig) -> dict[str, Any]:
    """Write out_dir/train.csv, test.csv and manifest.json."""
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with stage_run(cfg, "moldata"):
        source = cfg.moltask.source
        if source is None:
            raise DataError(
                f"moltask {cfg.moltask.name}: no source file; set moltask.source to a TDC-layout .csv/.tab"
            )
        rows = chembl_rows() if source == "rdkit_chembl" else tdc_rows(Path(source))
        train, test = split(rows, cfg.train_size, cfg.test_size, balanced=cfg.balanced, seed=cfg.seed)
        write_csv(out / "train.csv", train)
        write_csv(out / "test.csv", test)
        summary = {
            "task": cfg.moltask.name,
            "source": str(source),
            "molecules": len(rows),
            "train": {"n": len(train), "label_1": sum(r["Y"] for r in train)},
            "test": {"n": len(test), "label_1": sum(r["Y"] for r in test)},
        }
        write_json(out / "manifest.json", summary)
    log.info("moldata: %s", summary)
    return summary


main = stage_main("moldata")(run)

if __name__ == "__main__":
    main()
