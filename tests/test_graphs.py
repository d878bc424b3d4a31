"""Graph construction: cutoff and complete graphs, periodic images (1-atom cell), bond types per edge from the
reference topology, batching."""

import numpy as np
import pytest
import torch
from ase.build import bulk, molecule
from ase.neighborlist import neighbor_list

from vimpnn import keys
from vimpnn.bonds import ORGANIC, SINGLE, max_bond_length, perceive_bonds
from vimpnn.data import SystemArrays
from vimpnn.graphs import GraphDataset, complete_graph, cutoff_graph, edge_vectors, system_edges
from vimpnn.structures.scaling import scaled


def arrays_of(atoms_list):
    for a in atoms_list:
        a.info.setdefault("scale", 1.0)
    bonds = [perceive_bonds(a, a.info["scale"]) for a in atoms_list]
    return SystemArrays.from_atoms(atoms_list, [0.0] * len(atoms_list), bonds)


@pytest.mark.parametrize("molecule_graph", ["cutoff", "complete"])
def test_molecule_graph_with_bond_types(molecule_graph):
    ds = GraphDataset(arrays_of([molecule("CH4")]), molecule_graph=molecule_graph)
    b = ds.collate([0])
    assert b[keys.EDGE_INDEX].shape == (2, 20)  # 5 x 4 directed pairs, all closer than 5 Å
    bonded = b[keys.BOND_TYPE] == SINGLE
    assert int(bonded.sum()) == 8  # four C-H bonds, both directions
    carbon_edges = (b[keys.EDGE_INDEX] == 0).any(dim=0)
    assert bool((bonded == carbon_edges).all())  # every bond involves C (atom 0); no H-H bond
    expected = 5.0 if molecule_graph == "cutoff" else np.inf
    assert (b[keys.EDGE_CUTOFF].numpy() == expected).all()


def test_separated_fragments_share_no_edge_unless_complete_graph():
    pair = molecule("CH4") + molecule("CH4")
    pair.positions[5:] += [100.0, 0.0, 0.0]
    for graph, n_edges in (("cutoff", 2 * 20), ("complete", 10 * 9)):
        b = GraphDataset(arrays_of([pair.copy()]), molecule_graph=graph).collate([0])
        assert b[keys.EDGE_INDEX].shape[1] == n_edges


@pytest.mark.parametrize("stretch", [1.0, 1.3, 1.5, 3.0])
def test_molecule_bond_types_do_not_depend_on_the_stretch(stretch):
    """A pair of the bond table is bonded at any length (the bond channel follows the reference topology)."""
    ref = molecule("CH4")
    bonds = perceive_bonds(ref)
    stretched = scaled(ref, stretch)
    stretched.info["scale"] = 1.0  # even with the stretch unknown to the graph
    arrays = SystemArrays.from_atoms([stretched], [0.0], [bonds])
    b = GraphDataset(arrays, molecule_graph="complete").collate([0])
    assert int((b[keys.BOND_TYPE] == SINGLE).sum()) == 8


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
    pairs, image = cutoff_graph(atoms.positions, atoms.cell.array, atoms.pbc, 4.5)
    assert image.dtype.kind == "i"
    d = np.linalg.norm(atoms.positions[pairs[:, 0]] + image @ atoms.cell.array - atoms.positions[pairs[:, 1]], axis=1)
    i, j, d_ase = neighbor_list("ijd", atoms, 4.5)
    assert len(d) == len(d_ase)
    assert np.allclose(np.sort(d), np.sort(d_ase), atol=1e-9)
    assert sorted(zip(pairs[:, 1], pairs[:, 0])) == sorted(zip(i, j))  # [source, receiver] = ASE's (j, i)


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


def test_complete_graph_only_for_molecules():
    cell = bulk("Al", "fcc", a=4.05)
    pairs, image, rc = system_edges(cell.numbers, cell.positions, cell.cell.array, cell.pbc, 5.0, "complete")
    assert rc == 5.0 and len(pairs) == 42
    mol = molecule("H2O")
    pairs, image, rc = system_edges(mol.numbers, mol.positions, mol.cell.array, mol.pbc, 1.0, "complete")
    assert rc == np.inf and pairs.tolist() == complete_graph(3).tolist() and not image.any()


def straightforward_batch(arrays, indices, cutoff, molecule_graph):
    """The batch built system by system (graphs, bond types with the physical rule written out) and
    concatenated: the reference for `collate`."""
    parts = {k: [] for k in (keys.Z, keys.POSITIONS, keys.EDGE_INDEX, keys.EDGE_SHIFT, keys.EDGE_CUTOFF,
                             keys.BOND_TYPE)}
    first = 0
    for i in indices:
        sl, bsl = arrays.atom_slice(i), arrays.bond_slice(i)
        z, pos = arrays.numbers[sl], arrays.positions[sl]
        if molecule_graph == "complete" and not arrays.pbc[i].any() and set(z.tolist()) <= ORGANIC:
            pairs, shift, rc = complete_graph(len(z)), np.zeros((len(z) * (len(z) - 1), 3)), np.inf
        else:
            pairs, image = cutoff_graph(pos, arrays.cell[i], arrays.pbc[i], cutoff)
            shift, rc = image @ arrays.cell[i], cutoff
        d = np.linalg.norm(pos[pairs[:, 0]] + shift - pos[pairs[:, 1]], axis=1)
        table = {tuple(sorted(p)): t for p, t in zip(arrays.bond_pairs[bsl].tolist(), arrays.bond_type[bsl].tolist())}
        types = [table.get(tuple(sorted(p)), 0) if not arrays.pbc[i].any()
                 or dist / arrays.scale[i] <= max_bond_length(z[p[0]], z[p[1]]) else 0
                 for p, dist in zip(pairs.tolist(), d)]
        parts[keys.BOND_TYPE].append(torch.tensor(types, dtype=torch.int64))
        parts[keys.Z].append(torch.from_numpy(z.astype(np.int64)))
        parts[keys.POSITIONS].append(torch.from_numpy(pos).float())
        parts[keys.EDGE_INDEX].append(torch.from_numpy(pairs.T + first))
        parts[keys.EDGE_SHIFT].append(torch.from_numpy(shift).float())
        parts[keys.EDGE_CUTOFF].append(torch.full((len(pairs),), rc, dtype=torch.float32))
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


@pytest.mark.parametrize("molecule_graph", ["cutoff", "complete"])
def test_vectorised_batch_equals_straightforward_one_key_by_key(molecule_graph):
    mols = [molecule(name) for name in ("CH4", "H2O", "C6H6", "CH3CH2OH", "HCN")]
    systems = mols + [scaled_copy(m, s) for m in mols for s in (0.9, 1.3)]  # repeated sizes: tiled graphs
    cluster = bulk("Cu", "fcc", a=3.61, cubic=True)
    cluster.pbc, cluster.cell = False, np.zeros((3, 3))
    cell = bulk("Al", "fcc", a=4.05 * 1.2)
    cell.info["scale"] = 1.2
    systems += [bulk("Al", "fcc", a=4.05), cell, cluster, bulk("Cu", "fcc", a=3.61, cubic=True)]
    arrays = arrays_of(systems)
    arrays.energy = np.arange(len(systems), dtype=np.float64) - 7.5
    ds = GraphDataset(arrays, cutoff=4.0, molecule_graph=molecule_graph)
    for indices in ([3], list(range(len(systems))), [len(systems) - 2, 4, 0, 9, 4]):
        fast, ref = ds.collate(indices), straightforward_batch(arrays, indices, 4.0, molecule_graph)
        assert fast.keys() == ref.keys()
        for key in ref:
            assert fast[key].dtype == ref[key].dtype and torch.equal(fast[key], ref[key]), key
    assert int(ds.collate(list(range(len(systems))))[keys.BOND_TYPE].gt(0).sum()) > 100
