import numpy as np
import pytest

from vimpnn.structures.datasets import build, count_systems
from vimpnn.structures.growth import NN_VECTORS, SEED_SITES, cluster, grow_sites, growth_rng

PAPER = {"seed": 0, "growth": {"elements": ["Al", "Cu"], "min_size": 15, "max_size": 114,
                               "stable": {"n_seeds": 20}, "unstable": {"n_seeds": 5, "scalings": {"n": 10}}}}


def test_seed_is_14_atom_fcc_cube():
    assert len(SEED_SITES) == 14 and len(NN_VECTORS) == 12
    seed = cluster("Cu", SEED_SITES, 3.61)
    d = seed.get_all_distances()
    # each face centre has 4 corner neighbours at a/√2 and 4 face-centre neighbours at a/√2
    nn = (np.abs(d - 3.61 / np.sqrt(2)) < 1e-9).sum(1)
    assert sorted(nn.tolist()) == [3] * 8 + [8] * 6


@pytest.mark.parametrize("seed", range(5))
def test_added_atoms_on_free_adjacent_fcc_sites(seed):
    sites = grow_sites(114, growth_rng(0, 13, seed))
    assert len(sites) == 114 and np.all(sites[:14] == SEED_SITES)
    assert np.all(sites.sum(1) % 2 == 0)  # fcc sublattice of the cubic grid
    assert len({tuple(s) for s in sites}) == 114  # never an occupied site
    for n in range(14, 114):
        d2 = ((sites[:n] - sites[n]) ** 2).sum(1)
        assert d2.min() == 2  # at a/√2 (|(1,1,0)|² = 2 in units of a/2) from an existing atom
    a = 4.05
    c = cluster("Al", sites, a)
    assert c.get_all_distances()[np.triu_indices(114, 1)].min() == pytest.approx(a / np.sqrt(2))


def test_same_seed_same_structures():
    cfg = {**PAPER, "growth": {**PAPER["growth"], "max_size": 30, "stable": {"n_seeds": 2}}}
    a, b = build("growth_stable", cfg), build("growth_stable", cfg)
    assert all(np.array_equal(x.positions, y.positions) for x, y in zip(a, b))
    other = build("growth_stable", {**cfg, "seed": 1})
    assert any(not np.array_equal(x.positions, y.positions) for x, y in zip(a, other))


def test_paper_scale_counts():
    assert count_systems("growth_stable", PAPER) == 4000
    assert count_systems("growth_unstable", PAPER) == 10000
    stable = build("growth_stable", PAPER)
    assert len(stable) == 4000 and len({a.info["group"] for a in stable}) == 40
    assert sorted({len(a) for a in stable}) == list(range(15, 115))
    unstable = build("growth_unstable", PAPER)
    assert len(unstable) == 10000 and len({a.info["group"] for a in unstable}) == 1000
    # the unstable growths are the first 5 stable growths per element, scaled
    ref = {a.info["system_id"].replace("growth_stable", "growth_unstable") + "-s00": a for a in stable}
    for u in unstable[::997]:
        if u.info["system_id"].endswith("-s00"):
            assert u.info["scale"] == pytest.approx(0.9)
            s = ref[u.info["system_id"]]
            np.testing.assert_allclose(u.get_all_distances(), 0.9 * s.get_all_distances(), atol=1e-9)
