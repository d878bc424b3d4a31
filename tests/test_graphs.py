"""Graph construction: complete graphs, periodic images (1-atom cell), bond types per edge, batching."""

import numpy as np
import pytest
import torch
from ase.build import bulk, molecule
from ase.neighborlist import neighbor_list

from vimpnn import keys
from vimpnn.bonds import ORGANIC, SINGLE, perceive_bonds
from vimpnn.data import SystemArrays
from vimpnn.graphs import (GraphDataset, complete_graph, complete_graph_edge, cutoff_graph, edge_bond_types,
                           edge_vectors)
from vimpnn.structures.scaling import scaled


def arrays_of(atoms_list):
    for a in atoms_list:
        a.info.setdefault("scale", 1.0)
    bonds = [perceive_bonds(a, a.info["scale"]) for a in atoms_list]
    return SystemArrays.from_atoms(atoms_list, [0.0] * len(atoms_list), bonds)


def test_molecule_is_complete_graph_with_bond_types():
    ds = GraphDataset(arrays_of([molecule("CH4")]))
    b = ds.collate([0])
    assert b[keys.EDGE_INDEX].shape == (2, 20)  # 5 x 4 directed pairs
    bonded = b[keys.BOND_TYPE] == SINGLE
    assert int(bonded.sum()) == 8  # four C-H bonds, both directions
    carbon_edges = (b[keys.EDGE_INDEX] == 0).any(dim=0)
    assert bool((bonded == carbon_edges).all())  # every bond involves C (atom 0); no H-H bond


def test_one_atom_fcc_cell_has_twelve_bonded_self_images():
    a = 4.05
    ds = GraphDataset(arrays_of([bulk("Al", "fcc", a=a)]), cutoff=5.0)
    b = ds.collate([0])
    d, t = b[keys.DISTANCE].numpy(), b[keys.BOND_TYPE].numpy()
    assert b[keys.EDGE_INDEX].eq(0).all()  # all edges are self-images
    nearest = np.isclose(d, a / np.sqrt(2), atol=1e-4)
    assert nearest.sum() == 12 and len(d) == 12 + 6 + 24  # shells at a/sqrt2, a, a*sqrt(3/2) < 5 Å
    assert (t[nearest] == SINGLE).all() and (t[~nearest] == 0).all()


def test_scaled_cell_keeps_reference_bonds():
    atoms = bulk("Cu", "fcc", a=3.61 * 1.4)
    atoms.info["scale"] = 1.4
    b = GraphDataset(arrays_of([atoms]), cutoff=7.0).collate([0])
    bonded = b[keys.BOND_TYPE].numpy() == SINGLE
    assert bonded.sum() == 12
    assert np.allclose(b[keys.DISTANCE].numpy()[bonded], 1.4 * 3.61 / np.sqrt(2), atol=1e-4)


def test_cutoff_graph_matches_ase_neighbour_list():
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat((1, 2, 1))
    atoms.rattle(0.1, seed=1)
    atoms.positions += [5.0, -7.0, 0.3]  # atoms outside the cell must still work
    pairs, shift = cutoff_graph(atoms.positions, atoms.cell.array, atoms.pbc, 4.5)
    d = np.linalg.norm(atoms.positions[pairs[:, 0]] + shift - atoms.positions[pairs[:, 1]], axis=1)
    i, j, d_ase = neighbor_list("ijd", atoms, 4.5)
    assert len(d) == len(d_ase)
    assert np.allclose(np.sort(d), np.sort(d_ase), atol=1e-9)


def test_metal_cluster_uses_cutoff():
    cluster = bulk("Al", "fcc", a=4.05, cubic=True).repeat(2)
    cluster.pbc = False
    cluster.cell = np.zeros((3, 3))
    ds = GraphDataset(arrays_of([cluster]), cutoff=3.0)
    b = ds.collate([0])
    assert b[keys.DISTANCE].max() < 3.0
    assert int((b[keys.BOND_TYPE] == SINGLE).sum()) == b[keys.EDGE_INDEX].shape[1]  # only nearest neighbours


def test_collate_batches_by_index_without_padding():
    ds = GraphDataset(arrays_of([molecule("H2O"), bulk("Al", "fcc", a=4.05), molecule("CH4")]), cutoff=3.0)
    b = ds.collate([2, 0, 1])
    assert b[keys.IDX_M].tolist() == [0] * 5 + [1] * 3 + [2]
    assert b[keys.N_ATOMS].tolist() == [5, 3, 1]
    ei = b[keys.EDGE_INDEX]
    assert ei.shape[1] == 20 + 6 + 12
    assert ei[:, 20:26].min() == 5 and ei[:, 20:26].max() == 7  # H2O shifted past CH4's 5 atoms
    assert (ei[:, 26:] == 8).all()
    assert b[keys.SYSTEM_INDEX].tolist() == [2, 0, 1]


@pytest.mark.parametrize("scale", [1.0, 1.5])
def test_characteristic_length_is_reference_bond_length(scale):
    atoms = bulk("Al", "fcc", a=4.05 * scale)
    atoms.info["scale"] = scale
    ds = GraphDataset(arrays_of([atoms]))
    assert ds.characteristic_length()[0] == pytest.approx(4.05 / np.sqrt(2), abs=1e-4)


def test_complete_graph_edge_is_position_in_complete_graph():
    for n in (2, 3, 7):
        w, v = complete_graph(n).T
        assert complete_graph_edge(n, w, v).tolist() == list(range(n * (n - 1)))


def straightforward_batch(arrays, indices, cutoff):
    """The batch built system by system (graphs, bond types) and concatenated: the reference for `collate`."""
    parts = {k: [] for k in (keys.Z, keys.POSITIONS, keys.EDGE_INDEX, keys.EDGE_SHIFT, keys.BOND_TYPE)}
    first = 0
    for i in indices:
        sl, bsl = arrays.atom_slice(i), arrays.bond_slice(i)
        z, pos = arrays.numbers[sl], arrays.positions[sl]
        if not arrays.pbc[i].any() and set(z.tolist()) <= ORGANIC:
            pairs, shift = complete_graph(len(z)), np.zeros((len(z) * (len(z) - 1), 3))
        else:
            pairs, shift = cutoff_graph(pos, arrays.cell[i], arrays.pbc[i], cutoff)
        d = np.linalg.norm(pos[pairs[:, 0]] + shift - pos[pairs[:, 1]], axis=1)
        parts[keys.BOND_TYPE].append(torch.from_numpy(edge_bond_types(
            pairs, z, d, arrays.scale[i], arrays.bond_pairs[bsl], arrays.bond_type[bsl])))
        parts[keys.Z].append(torch.from_numpy(z.astype(np.int64)))
        parts[keys.POSITIONS].append(torch.from_numpy(pos).float())
        parts[keys.EDGE_INDEX].append(torch.from_numpy(pairs.T + first))
        parts[keys.EDGE_SHIFT].append(torch.from_numpy(shift).float())
        first += len(z)
    batch = {k: torch.cat(v, dim=1 if k == keys.EDGE_INDEX else 0) for k, v in parts.items()}
    idx = np.asarray(indices)
    n_atoms = torch.from_numpy(arrays.n_atoms[idx])
    batch.update({
        keys.IDX_M: torch.repeat_interleave(torch.arange(len(idx)), n_atoms),
        keys.DISTANCE: edge_vectors(batch[keys.POSITIONS], batch[keys.EDGE_INDEX], batch[keys.EDGE_SHIFT]).norm(dim=-1),
        keys.N_ATOMS: n_atoms, keys.SCALE: torch.from_numpy(arrays.scale[idx]),
        keys.SYSTEM_INDEX: torch.from_numpy(idx), keys.REF_ENERGY: torch.from_numpy(arrays.energy[idx]),
    })
    return batch


def scaled_copy(atoms, s):
    out = scaled(atoms, s)
    out.info["scale"] = s
    return out


def test_vectorised_batch_equals_straightforward_one_key_by_key():
    mols = [molecule(name) for name in ("CH4", "H2O", "C6H6", "CH3CH2OH", "HCN")]
    systems = mols + [scaled_copy(m, s) for m in mols for s in (0.9, 1.3)]  # repeated sizes: tiled graphs
    cluster = bulk("Cu", "fcc", a=3.61, cubic=True)
    cluster.pbc, cluster.cell = False, np.zeros((3, 3))
    cell = bulk("Al", "fcc", a=4.05 * 1.2)
    cell.info["scale"] = 1.2
    systems += [bulk("Al", "fcc", a=4.05), cell, cluster, bulk("Cu", "fcc", a=3.61, cubic=True)]
    arrays = arrays_of(systems)
    arrays.energy = np.arange(len(systems), dtype=np.float64) - 7.5
    ds = GraphDataset(arrays, cutoff=4.0)
    for indices in ([3], list(range(len(systems))), [len(systems) - 2, 4, 0, 9, 4]):
        fast, ref = ds.collate(indices), straightforward_batch(arrays, indices, 4.0)
        assert fast.keys() == ref.keys()
        for key in ref:
            assert fast[key].dtype == ref[key].dtype and torch.equal(fast[key], ref[key]), key
    assert int(ds.collate(list(range(len(systems))))[keys.BOND_TYPE].gt(0).sum()) > 100
