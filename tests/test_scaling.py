import numpy as np
import pytest
from ase.build import molecule

from vimpnn.structures.scaling import scaled, scaling_factors


def _angles(p):
    v = p[None, :, :] - p[:, None, :]
    n = np.linalg.norm(v, axis=-1)
    i, j, k = np.meshgrid(*[np.arange(len(p))] * 3, indexing="ij")
    ok = (i != j) & (j != k) & (i != k)
    cos = np.einsum("ijx,jkx->ijk", -v, v)[ok] / (n[i, j] * n[j, k])[ok]
    return cos


@pytest.mark.parametrize("s", [0.9, 1.0, 1.2333, 1.5])
def test_scaling_multiplies_distances_and_keeps_angles(s):
    m = molecule("CH3CH2OH")
    m2 = scaled(m, s)
    np.testing.assert_allclose(m2.get_all_distances(), s * m.get_all_distances(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(_angles(m2.positions), _angles(m.positions), atol=1e-12)
    np.testing.assert_allclose(m2.positions.mean(0), m.positions.mean(0), atol=1e-12)  # about the centroid


def test_default_grid():
    f = scaling_factors()
    assert len(f) == 10 and f[0] == pytest.approx(0.9) and f[-1] == pytest.approx(1.5)
    np.testing.assert_allclose(np.diff(f), 0.6 / 9)
