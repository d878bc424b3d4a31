import numpy as np
import pytest
from ase.build import bulk, molecule

from vimpnn.bonds import MULTIPLE, NONBONDED, SINGLE, COVALENT_RADII, max_bond_length, perceive_bonds
from vimpnn.structures.growth import SEED_SITES, cluster
from vimpnn.structures.scaling import scaled


def _types(atoms, scale=1.0):
    pairs, types = perceive_bonds(atoms, scale)
    syms = atoms.get_chemical_symbols()
    return sorted(("".join(sorted(syms[i] + syms[j])), int(t)) for (i, j), t in zip(pairs, types))


@pytest.mark.parametrize(
    "name, expected",
    [
        ("C2H6", [("CC", SINGLE)] + [("CH", SINGLE)] * 6),
        ("C2H4", [("CC", MULTIPLE)] + [("CH", SINGLE)] * 4),
        ("C2H2", [("CC", MULTIPLE)] + [("CH", SINGLE)] * 2),
        ("HCN", [("CH", SINGLE), ("CN", MULTIPLE)]),
        ("H2O", [("HO", SINGLE)] * 2),
        ("C6H6", [("CC", MULTIPLE)] * 6 + [("CH", SINGLE)] * 6),
    ],
)
def test_hand_checked_molecules(name, expected):
    assert _types(molecule(name)) == sorted(expected)


def test_scaled_copy_inherits_reference_bonds():
    m = molecule("C2H4")
    for s in (0.9, 1.5):
        assert np.array_equal(perceive_bonds(scaled(m, s), s)[0], perceive_bonds(m)[0])
    # without unscaling, the 1.5x geometry would lose its bonds: the scale is what keeps them
    assert len(perceive_bonds(scaled(m, 1.5), 1.0)[0]) < len(perceive_bonds(m)[0])


def test_metal_cluster_nearest_neighbours_single():
    c = cluster("Cu", SEED_SITES, 3.61)
    pairs, types = perceive_bonds(c)
    # 8 corners x 3 face-centre neighbours + 6 face centres x 4 face-centre neighbours / 2 = 24 + 12
    assert len(pairs) == 36
    assert np.all(types == SINGLE)
    d = c.get_all_distances()[pairs[:, 0], pairs[:, 1]]
    np.testing.assert_allclose(d, 3.61 / np.sqrt(2))


def test_one_atom_cell_self_image_bond():
    pairs, types = perceive_bonds(bulk("Al", "fcc", a=4.05 * 1.4), scale=1.4)
    assert pairs.tolist() == [[0, 0]] and types.tolist() == [SINGLE]


def test_bond_range_separates_fcc_shells():
    for z, a in ((13, 4.05), (29, 3.61)):
        r = max_bond_length(z, z)
        assert a / np.sqrt(2) < r < a
    assert NONBONDED == 0 and COVALENT_RADII[6] == pytest.approx(0.76)


def test_import_does_not_pull_rdkit():
    import subprocess
    import sys

    code = "import sys, vimpnn.bonds; assert 'rdkit' not in sys.modules and 'ase' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_strained_cage_takes_its_bonds_from_the_smiles():
    """QM9 105, bicyclo[1.1.1]pentane: its bridgeheads are within the covalent-radius factor, so valence fails.
    With its SMILES the cage has 6 C-C and 8 C-H bonds and the bridgehead pair is not bonded."""
    from collections import Counter

    from vimpnn.structures.qm9 import open_qm9

    (rec,) = [r for r in open_qm9({"source": "shipped"}, 105) if r.index == 105]
    assert rec.smiles == "C1C2CC1C2"
    atoms = rec.to_atoms()
    routes = Counter()
    pairs, types = perceive_bonds(atoms, 1.0, routes)  # no SMILES: the connectivity, one bond too many
    assert routes == {"connectivity only": 1} and len(pairs) == 15
    atoms.info["smiles"] = rec.smiles
    pairs, types = perceive_bonds(atoms, 1.0, routes)
    assert routes["smiles"] == 1
    assert _types(atoms) == sorted([("CC", SINGLE)] * 6 + [("CH", SINGLE)] * 8)
    bridgeheads = [i for i in range(len(atoms)) if atoms[i].symbol == "C" and sum(
        atoms[j].symbol == "H" for p in pairs.tolist() if i in p for j in p if j != i) == 1]
    assert len(bridgeheads) == 2 and sorted(bridgeheads) not in pairs.tolist()


def test_a_smiles_that_does_not_match_is_not_used():
    from collections import Counter

    from vimpnn.structures.qm9 import open_qm9

    (rec,) = [r for r in open_qm9({"source": "shipped"}, 105) if r.index == 105]
    atoms = rec.to_atoms()
    atoms.info["smiles"] = "CCCCC"  # pentane: same formula, another graph
    routes = Counter()
    pairs, _ = perceive_bonds(atoms, 1.0, routes)
    assert routes == {"connectivity only": 1} and len(pairs) == 15
