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
