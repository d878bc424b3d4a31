import numpy as np
import pytest
from ase.neighborlist import neighbor_list

from vimpnn.structures.crystals import REFERENCE_LATTICE_CONSTANTS, fcc_cell
from vimpnn.structures.datasets import build, count_systems


@pytest.mark.parametrize("element", ["Al", "Cu"])
@pytest.mark.parametrize("cell", ["primitive", "conventional"])
@pytest.mark.parametrize("s", [0.9, 1.0, 1.5])
def test_fcc_twelve_nearest_neighbours(element, cell, s):
    a = s * REFERENCE_LATTICE_CONSTANTS[element]
    crystal = fcc_cell(element, a, cell)
    assert len(crystal) == (1 if cell == "primitive" else 4)
    np.testing.assert_allclose(crystal.get_volume() / len(crystal), a**3 / 4)
    i, d = neighbor_list("id", crystal, 0.85 * a)  # between 1st (a/√2 = 0.707a) and 2nd (a) shell
    assert np.all(np.bincount(i) == 12)
    np.testing.assert_allclose(d, a / np.sqrt(2), rtol=1e-12)


def test_infcrystal_dataset_grid():
    cfg = {"infcrystal": {"elements": ["Al", "Cu"], "scalings": {"min": 0.9, "max": 1.5, "n": 7}}}
    systems = build("infcrystal", cfg)
    assert len(systems) == 14 == count_systems("infcrystal", cfg)
    al = [a for a in systems if a.info["group"] == 0]
    np.testing.assert_allclose([a.get_volume() for a in al], [(s * 4.05) ** 3 / 4 for s in np.linspace(0.9, 1.5, 7)])
    assert len({a.info["system_id"] for a in systems}) == 14
