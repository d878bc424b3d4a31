"""Crystal growth: a 14-atom fcc seed grown one atom at a time on random free surface lattice sites.

Sites are integer points (i, j, k) with i + j + k even, in units of a/2; the fcc nearest-neighbour
vectors are the 12 permutations of (±1, ±1, 0), of length a/sqrt(2).
"""

from __future__ import annotations

from itertools import product

import numpy as np

SEED_SITES = np.array(
    [c for c in product((0, 2), repeat=3)]  # 8 cube corners
    + [(1, 1, 0), (1, 0, 1), (0, 1, 1), (1, 1, 2), (1, 2, 1), (2, 1, 1)],  # 6 face centres
    dtype=np.int64,
)
NN_VECTORS = np.array(
    [v for v in product((-1, 0, 1), repeat=3) if sorted(map(abs, v)) == [0, 1, 1]], dtype=np.int64
)


def grow_sites(max_size: int, rng: np.random.Generator) -> np.ndarray:
    """Lattice sites (max_size, 3) in growth order: the 14 seed sites, then one random free neighbour site each step.

    Each step picks uniformly among the distinct unoccupied sites adjacent to the cluster.
    """
    if max_size < len(SEED_SITES):
        raise ValueError(f"growth size {max_size} is smaller than the 14-atom seed")
    sites = [tuple(s) for s in SEED_SITES]
    occupied = set(sites)
    while len(sites) < max_size:
        candidates = {tuple(s) for s in (np.array(sites)[:, None, :] + NN_VECTORS).reshape(-1, 3)} - occupied
        site = sorted(candidates)[rng.integers(len(candidates))]  # sorted: same seed, same growth
        sites.append(site)
        occupied.add(site)
    return np.array(sites, dtype=np.int64)


def growth_rng(seed: int, element_z: int, growth: int) -> np.random.Generator:
    """Independent, reproducible stream per (config seed, element, growth index)."""
    return np.random.default_rng([seed, element_z, growth])


def cluster(element: str, sites: np.ndarray, a: float):
    """Non-periodic cluster of `element` on the given lattice sites with lattice constant `a`."""
    from ase import Atoms

    return Atoms(symbols=[element] * len(sites), positions=sites * (a / 2.0))
