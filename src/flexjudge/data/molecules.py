"""Molecules as graphs for a molecular LLM's encoders (rdkit, plain torch).

`featurize` turns a SMILES into a `MolGraph`: one row of atom features per heavy atom, one row of bond
features per bond direction (each bond twice, so message passing runs both ways), and 3-D coordinates from
one ETKDG conformer with a fixed seed (`coords_kind` "3d"), or rdkit's 2-D layout when no conformer embeds
("2d", recorded, never silent). `collate_molecules` concatenates molecules for a batch with per-molecule
atom and bond counts and *local* edge indices, so per-example tensors can be concatenated as they are.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from flexjudge.core.io import DataError

#: Atomic numbers with their own one-hot slot (H to I, the organic and common drug elements); others share one.
ELEMENTS = (1, 5, 6, 7, 8, 9, 11, 12, 14, 15, 16, 17, 19, 20, 26, 29, 30, 35, 53)
CHARGES = (-2, -1, 0, 1, 2)
HYBRIDIZATIONS = ("S", "SP", "SP2", "SP3", "SP3D", "SP3D2")
HYDROGENS = (0, 1, 2, 3, 4)
BOND_TYPES = ("SINGLE", "DOUBLE", "TRIPLE", "AROMATIC")
#: element (+other), charge (+other), aromatic, hybridization (+other), H count (+other), in ring
ATOM_DIM = len(ELEMENTS) + 1 + len(CHARGES) + 1 + 1 + len(HYBRIDIZATIONS) + 1 + len(HYDROGENS) + 1 + 1
#: bond type, conjugated, in ring
BOND_DIM = len(BOND_TYPES) + 2
GRAPH_KEYS = ("mol_atoms", "mol_bonds", "mol_edges", "mol_coords", "mol_atom_counts", "mol_bond_counts")


@dataclass(frozen=True)
class MolGraph:
    """One molecule: atoms (N, ATOM_DIM), bonds (E, BOND_DIM), edges (E, 2) as (from, to), coords (N, 3)."""

    smiles: str
    atoms: torch.Tensor
    bonds: torch.Tensor
    edges: torch.Tensor
    coords: torch.Tensor
    coords_kind: str


def _one_hot(value, choices: Sequence) -> list[float]:
    """One-hot over `choices` plus a last slot for anything else."""
    out = [0.0] * (len(choices) + 1)
    out[choices.index(value) if value in choices else len(choices)] = 1.0
    return out


def atom_features(atom) -> list[float]:
    return [
        *_one_hot(atom.GetAtomicNum(), ELEMENTS),
        *_one_hot(atom.GetFormalCharge(), CHARGES),
        float(atom.GetIsAromatic()),
        *_one_hot(str(atom.GetHybridization()), HYBRIDIZATIONS),
        *_one_hot(atom.GetTotalNumHs(), HYDROGENS),
        float(atom.IsInRing()),
    ]


def bond_features(bond) -> list[float]:
    kind = str(bond.GetBondType())
    if kind not in BOND_TYPES:
        raise DataError(f"bond type {kind} is not one of {BOND_TYPES}")
    return [*(float(kind == t) for t in BOND_TYPES), float(bond.GetIsConjugated()), float(bond.IsInRing())]


def _coordinates(mol, seed: int) -> tuple[torch.Tensor, str]:
    """Heavy-atom coordinates of one seeded ETKDG conformer, else the 2-D layout (z = 0)."""
    from rdkit import Chem
    from rdkit.Chem import AllChem

    with_h = Chem.AddHs(mol)
    params = AllChem.ETKDGv3()
    params.randomSeed = int(seed)
    if AllChem.EmbedMolecule(with_h, params) == 0:
        pos = with_h.GetConformer().GetPositions()[: mol.GetNumAtoms()]  # AddHs appends the hydrogens
        return torch.tensor(pos, dtype=torch.float32), "3d"
    flat = Chem.Mol(mol)
    AllChem.Compute2DCoords(flat)
    return torch.tensor(flat.GetConformer().GetPositions(), dtype=torch.float32), "2d"


def featurize(smiles: str, *, conformer_seed: int = 0, where: str = "") -> MolGraph:
    """The graph of one SMILES (a DataError naming `where` when rdkit cannot read it)."""
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    mol = Chem.MolFromSmiles(smiles) if isinstance(smiles, str) and smiles.strip() else None
    if mol is None or mol.GetNumAtoms() == 0:
        raise DataError(f"{where or 'molecule'}: rdkit cannot parse the SMILES {smiles!r}")
    atoms = torch.tensor([atom_features(a) for a in mol.GetAtoms()], dtype=torch.float32)
    edges, bonds = [], []
    for b in mol.GetBonds():
        i, j, f = b.GetBeginAtomIdx(), b.GetEndAtomIdx(), bond_features(b)
        edges += [(i, j), (j, i)]
        bonds += [f, f]
    coords, kind = _coordinates(mol, conformer_seed)
    return MolGraph(
        Chem.MolToSmiles(mol),
        atoms,
        torch.tensor(bonds, dtype=torch.float32).reshape(-1, BOND_DIM),
        torch.tensor(edges, dtype=torch.long).reshape(-1, 2),
        coords,
        kind,
    )


def collate_molecules(graphs: Sequence[MolGraph]) -> dict[str, torch.Tensor]:
    """Molecules of a batch as `GRAPH_KEYS` tensors (edges local to each molecule; counts give the split)."""
    if not graphs:
        raise ValueError("no molecules to collate")
    return {
        "mol_atoms": torch.cat([g.atoms for g in graphs]),
        "mol_bonds": torch.cat([g.bonds for g in graphs]),
        "mol_edges": torch.cat([g.edges for g in graphs]),
        "mol_coords": torch.cat([g.coords for g in graphs]),
        "mol_atom_counts": torch.tensor([g.atoms.shape[0] for g in graphs]),
        "mol_bond_counts": torch.tensor([g.edges.shape[0] for g in graphs]),
    }


def read_molecules(path: str | Path) -> list[dict[str, Any]]:
    """A moldata CSV's rows."""
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))
