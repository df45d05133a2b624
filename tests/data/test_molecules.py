"""Molecule featurisation (flexjudge.data.molecules): charges, aromatic bonds, molecules without bonds, the
fixed conformer seed, unreadable SMILES, and collation."""

import pytest
import torch

from flexjudge.core.io import DataError
from flexjudge.data.molecules import ATOM_DIM, BOND_DIM, CHARGES, ELEMENTS, collate_molecules, featurize

CHARGE_AT = len(ELEMENTS) + 1  # first charge slot
AROMATIC_AT = CHARGE_AT + len(CHARGES) + 1


def charge_of(row):
    return CHARGES[int(row[CHARGE_AT : CHARGE_AT + len(CHARGES)].argmax())]


def test_formal_charges_are_features():
    g = featurize("C[N+](C)(C)C")
    assert sorted(charge_of(r) for r in g.atoms) == [0, 0, 0, 0, 1]
    g = featurize("[O-]C=O")
    assert sorted(charge_of(r) for r in g.atoms) == [-1, 0, 0]


def test_benzene_has_six_aromatic_bonds_both_ways():
    g = featurize("c1ccccc1")
    assert g.atoms.shape == (6, ATOM_DIM) and g.bonds.shape == (12, BOND_DIM) and g.edges.shape == (12, 2)
    assert (g.bonds[:, 3] == 1).all() and (g.bonds[:, :3] == 0).all()  # AROMATIC, not single/double
    assert (g.atoms[:, AROMATIC_AT] == 1).all()
    assert {tuple(e) for e in g.edges.tolist()} == {(i, (i + 1) % 6) for i in range(6)} | {
        ((i + 1) % 6, i) for i in range(6)
    }


def test_molecules_without_bonds_have_empty_bond_tensors():
    g = featurize("[Na+].[Cl-]")
    assert g.atoms.shape == (2, ATOM_DIM) and g.bonds.shape == (0, BOND_DIM) and g.edges.shape == (0, 2)
    assert featurize("C").edges.shape == (0, 2)


def test_conformer_seed_fixes_the_coordinates():
    a, b = featurize("CCOc1ccccc1", conformer_seed=3), featurize("CCOc1ccccc1", conformer_seed=3)
    c = featurize("CCOc1ccccc1", conformer_seed=4)
    assert a.coords_kind == "3d" and a.coords.shape == (9, 3)
    assert torch.equal(a.coords, b.coords) and not torch.equal(a.coords, c.coords)


def test_unreadable_smiles_names_where():
    with pytest.raises(DataError, match=r"rows.jsonl:7.*'C1CC'"):
        featurize("C1CC", where="rows.jsonl:7")
    with pytest.raises(DataError, match="cannot parse"):
        featurize("")


def test_collate_keeps_local_edges_and_counts():
    batch = collate_molecules([featurize("CCO"), featurize("[Na+].[Cl-]"), featurize("c1ccccc1")])
    assert batch["mol_atom_counts"].tolist() == [3, 2, 6] and batch["mol_bond_counts"].tolist() == [4, 0, 12]
    assert batch["mol_atoms"].shape == (11, ATOM_DIM) and batch["mol_edges"].max() < 6
    with pytest.raises(ValueError):
        collate_molecules([])
