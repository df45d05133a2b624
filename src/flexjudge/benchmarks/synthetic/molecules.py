"""The mini PAMPA benchmark: ChEMBL compounds with measured pIC50 (from the rdkit wheel), a right and a wrong answer each."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from flexjudge.core.io import write_jsonl

#: ChEMBL assay CHEMBL2321810 (1,017 compounds with pIC50), shipped in the rdkit wheel (BSD-3).
CHEMBL_ASSAY = "CHEMBL2321810"
ACTIVE_PIC50 = 7.0  # "high" activity: IC50 at most 100 nM


def rdkit_assay_files() -> tuple[Path, Path]:
    """The SMILES and activity files of CHEMBL_ASSAY inside the installed rdkit package."""
    import rdkit

    folder = Path(rdkit.__file__).parent / "Contrib" / "FreeWilson" / "data"
    smi, act = folder / f"{CHEMBL_ASSAY}.smi", folder / f"{CHEMBL_ASSAY}_act.csv"
    if not (smi.exists() and act.exists()):
        raise FileNotFoundError(f"{folder}: rdkit {rdkit.__version__} lacks {smi.name} / {act.name}")
    return smi, act


def describe_molecule(smiles: str) -> str:
    """A short property summary computed by rdkit (weight, cLogP, TPSA, H-bond donors/acceptors)."""
    from rdkit import Chem
    from rdkit.Chem import Crippen, Descriptors, rdMolDescriptors

    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise ValueError(f"rdkit cannot parse the SMILES {smiles!r}")
    donors, rings = rdMolDescriptors.CalcNumHBD(mol), rdMolDescriptors.CalcNumAromaticRings(mol)
    return (
        f"The molecule weighs {Descriptors.MolWt(mol):.0f} Da, with cLogP {Crippen.MolLogP(mol):.1f}, "
        f"TPSA {rdMolDescriptors.CalcTPSA(mol):.0f} A^2, {donors} H-bond donor{'s' * (donors != 1)}, "
        f"{rdMolDescriptors.CalcNumHBA(mol)} acceptors and {rings} aromatic ring{'s' * (rings != 1)}."
    )


def _activity_answer(facts: str, pic50: float, says_high: bool, right: bool, style: int) -> str:
    """A policy-style answer: properties, the comparison with the cut-off, the class it concludes."""
    above = pic50 >= ACTIVE_PIC50
    compared = "at or above" if above else "below"
    if not right and style == 0:  # misreads the comparison
        compared = "below" if above else "at or above"
    verdict = "highly active" if says_high else "low-to-moderately active"
    return (
        f"{facts} Its measured pIC50 of {pic50:.2f} is {compared} the {ACTIVE_PIC50:.1f} cut-off, "
        f"so the compound is {verdict}.\nAnswer: {'High' if says_high else 'Low-to-moderate'}"
    )


def build_molecules(root: Path, n: int, rng: np.random.Generator, **_: Any) -> dict[str, Any]:
    """PAMPA-layout molecules.csv + responses.jsonl from ChEMBL activities: one right, one wrong answer each."""
    import csv

    smi, act = rdkit_assay_files()
    smiles = dict(reversed(line.split()) for line in smi.read_text().splitlines() if line.strip())
    with open(act, newline="") as fh:
        pic50 = {row["Name"]: float(row["Act"]) for row in csv.DictReader(fh)}
    ids = sorted(set(smiles) & set(pic50))
    high = [i for i in ids if pic50[i] >= ACTIVE_PIC50]
    low = [i for i in ids if pic50[i] < ACTIVE_PIC50]
    count = max(1, n // 2)  # two answers per molecule
    chosen = [str(x) for pair in zip(rng.permutation(high), rng.permutation(low), strict=False) for x in pair]
    chosen = chosen[:count]
    molecules, responses = [], []
    for drug in chosen:
        label = int(pic50[drug] >= ACTIVE_PIC50)
        molecules.append({"Drug_ID": drug, "Drug": smiles[drug], "Y": label})
        prompt = (
            f"In ChEMBL assay {CHEMBL_ASSAY} this compound has a measured pIC50 of {pic50[drug]:.2f}. "
            f"Compounds with pIC50 >= {ACTIVE_PIC50:.1f} count as highly active, the others as low-to-"
            "moderately active. Summarize its key properties and classify its activity: answer High or "
            "Low-to-moderate."
        )
        facts = describe_molecule(smiles[drug])
        style = int(rng.integers(2))
        answers = [(label, True), (1 - label, False)]
        for k in rng.permutation(2):
            says, right = answers[k]
            responses.append(
                {
                    "Drug_ID": drug,
                    "prompt": prompt,
                    "response": _activity_answer(facts, pic50[drug], bool(says), right, style),
                    "prediction": says,
                }
            )
    folder = root / "pampa"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "molecules.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["Drug_ID", "Drug", "Y"])
        writer.writeheader()
        writer.writerows(molecules)
    write_jsonl(folder / "responses.jsonl", responses)
    import rdkit

    return {
        "gold": f"the answer whose class matches the measured pIC50 (>= {ACTIVE_PIC50} high) is right; "
        "the wrong one misreads the comparison or contradicts it",
        "source": f"rdkit {rdkit.__version__} wheel (BSD-3): Contrib/FreeWilson/data/{CHEMBL_ASSAY}.smi "
        f"+ _act.csv; molecules alternate high and low-to-moderate",
        "items": {"pampa": len(responses)},
    }
