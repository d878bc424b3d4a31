"""Bond types (docs/bonds.md): three types per graph edge, perceived once on the reference geometry.

Types (see docs/bonds.md):
    0 NONBONDED - no chemical bond between the pair (every edge not in the bond table),
    1 SINGLE    - bond order 1, including metallic nearest-neighbour bonds in Al/Cu,
    2 MULTIPLE  - double, triple or aromatic bond (more than one shared electron pair).

Molecules are perceived with RDKit (connectivity from covalent radii, bond orders from valence; where
valence alone admits no assignment, e.g. QM9's zwitterions, the bond orders of the molecule's SMILES are
mapped onto that connectivity; only without either do its bonds stay single, with a warning); metals (clusters and periodic cells) by the covalent-radius rule alone. Perception runs on the unscaled
geometry, so every scaled copy inherits the bonds of its equilibrium structure. This module imports
neither RDKit nor ASE at import time: training reads bond tables from HDF5 and needs neither.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Final

import numpy as np

log = logging.getLogger(__name__)

N_BOND_TYPES: Final[int] = 3
NONBONDED: Final[int] = 0
SINGLE: Final[int] = 1
MULTIPLE: Final[int] = 2

# Pairs bond when closer than BOND_TOLERANCE x (r_i + r_j): RDKit's DetermineConnectivity default factor.
# For fcc Al (Cu) it puts nearest neighbours (2.86 / 2.55 Å) in and second neighbours (4.05 / 3.61 Å) out.
BOND_TOLERANCE: Final[float] = 1.3

# Covalent radii in Å, Z = 0..36 (Cordero et al., Dalton Trans. 2008, 2832, as in ase.data.covalent_radii).
COVALENT_RADII = np.array(
    [0.20, 0.31, 0.28, 1.28, 0.96, 0.84, 0.76, 0.71, 0.66, 0.57, 0.58, 1.66, 1.41, 1.21, 1.11, 1.07, 1.05,
     1.02, 1.06, 2.03, 1.76, 1.70, 1.60, 1.53, 1.39, 1.39, 1.32, 1.26, 1.24, 1.32, 1.22, 1.22, 1.20, 1.19,
     1.20, 1.20, 1.16]
)
ORGANIC: Final[frozenset[int]] = frozenset({1, 5, 6, 7, 8, 9, 14, 15, 16, 17, 35})


def max_bond_length(z_i: np.ndarray, z_j: np.ndarray) -> np.ndarray:
    """Longest distance (Å, reference geometry) at which atoms z_i and z_j count as bonded."""
    return BOND_TOLERANCE * (COVALENT_RADII[np.asarray(z_i)] + COVALENT_RADII[np.asarray(z_j)])


def reference_geometry(atoms, scale: float = 1.0):
    """The unscaled structure: positions (and cell) divided by `scale` about the centroid."""
    ref = atoms.copy()
    if atoms.pbc.any():
        ref.set_cell(atoms.cell.array / scale, scale_atoms=True)
    else:
        c = atoms.positions.mean(axis=0)
        ref.positions = c + (atoms.positions - c) / scale
    return ref


def perceive_bonds(atoms, scale: float = 1.0, routes: Counter | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Bonded pairs (n, 2) int32 with i <= j and their types (n,) int8, on the reference geometry.

    i == j appears only for a periodic atom bonded to its own image (the 1-atom fcc cell). `routes` counts how
    each molecule's bond orders were found ("valence", "smiles", "connectivity only"; metals: "radius").
    """
    ref = reference_geometry(atoms, scale)
    if not ref.pbc.any() and set(ref.numbers.tolist()) <= ORGANIC and len(ref) > 1:
        pairs, types, route = _rdkit_bonds(ref, str(atoms.info.get("smiles") or ""))
    else:
        pairs, route = _radius_pairs(ref), "radius"
        types = np.full(len(pairs), SINGLE, dtype=np.int8)
    if routes is not None:
        routes[route] += 1
    order = np.lexsort((pairs[:, 1], pairs[:, 0])) if len(pairs) else np.zeros(0, dtype=np.int64)
    return pairs[order].astype(np.int32).reshape(-1, 2), types[order].astype(np.int8)


def _radius_pairs(atoms) -> np.ndarray:
    """Unique (i <= j) pairs within bonding range, periodic images included."""
    from ase.neighborlist import neighbor_list

    if len(atoms) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    cutoff = float(max_bond_length(atoms.numbers.max(), atoms.numbers.max()))
    i, j, d = neighbor_list("ijd", atoms, cutoff)
    keep = d <= max_bond_length(atoms.numbers[i], atoms.numbers[j])
    pairs = np.sort(np.stack([i[keep], j[keep]], axis=1), axis=1)
    return np.unique(pairs, axis=0) if len(pairs) else np.zeros((0, 2), dtype=np.int64)


def _rdkit_bonds(atoms, smiles: str = "") -> tuple[np.ndarray, np.ndarray, str]:
    """RDKit perception: connectivity, then bond orders from valence, else from `smiles` (mapped onto the
    connectivity), else none (single bonds). Returns pairs, types and the route taken."""
    from vimpnn.extras import require

    Chem = require("rdkit.Chem", "bond perception of molecules")
    rdDetermineBonds = require("rdkit.Chem.rdDetermineBonds", "bond perception of molecules")
    require("rdkit.RDLogger", "bond perception of molecules").DisableLog("rdApp.error")  # failures are handled here

    block = f"{len(atoms)}\n\n" + "\n".join(
        f"{s} {x:.8f} {y:.8f} {z:.8f}" for s, (x, y, z) in zip(atoms.get_chemical_symbols(), atoms.positions)
    )
    mol = Chem.MolFromXYZBlock(block)
    try:
        rdDetermineBonds.DetermineBonds(mol, charge=0)
        Chem.SanitizeMol(mol)  # aromaticity: benzene's six C-C bonds become equivalent (MULTIPLE)
        route = "valence"
    except ValueError:  # no consistent neutral assignment from valence (zwitterions, strained rings)
        mol = Chem.MolFromXYZBlock(block)
        rdDetermineBonds.DetermineConnectivity(mol)
        mapped = _bonds_from_smiles(mol, smiles, Chem)
        if mapped is not None:
            return (*mapped, "smiles")
        log.warning("bond orders of %s (%s) not perceived: all its bonds count as single",
                    atoms.get_chemical_formula(), smiles or "no SMILES")
        route = "connectivity only"
    return (*_bond_table(mol, range(mol.GetNumAtoms()), Chem), route)


def _bond_table(mol, index, Chem) -> tuple[np.ndarray, np.ndarray]:
    """`mol`'s bonds as (i <= j) pairs of `index[atom]` and their types (SINGLE, else MULTIPLE)."""
    bonds = list(mol.GetBonds())
    pairs = np.array([sorted((index[b.GetBeginAtomIdx()], index[b.GetEndAtomIdx()])) for b in bonds], dtype=np.int64)
    types = np.array(
        [SINGLE if b.GetBondType() == Chem.BondType.SINGLE else MULTIPLE for b in bonds], dtype=np.int8
    )
    return pairs.reshape(-1, 2), types


def _bonds_from_smiles(mol, smiles: str, Chem) -> tuple[np.ndarray, np.ndarray] | None:
    """The bonds of `smiles` (hydrogens included) on the atoms of `mol`, or None when the SMILES is missing or
    its graph is not a subgraph of `mol`'s covalent-radius connectivity.

    The SMILES's single-bond skeleton is matched onto the connectivity; a close contact the SMILES does not
    bond (the bridgeheads of a strained ring) stays a non-bonded pair."""
    template = Chem.MolFromSmiles(smiles) if smiles else None
    if template is None:
        return None
    template = Chem.AddHs(template)
    skeleton = Chem.RWMol(template)
    for atom in skeleton.GetAtoms():
        atom.SetFormalCharge(0)
        atom.SetIsAromatic(False)
    for bond in skeleton.GetBonds():
        bond.SetBondType(Chem.BondType.SINGLE)
        bond.SetIsAromatic(False)
    match = mol.GetSubstructMatch(skeleton) if skeleton.GetNumAtoms() == mol.GetNumAtoms() else ()
    return _bond_table(template, match, Chem) if match else None
