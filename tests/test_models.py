"""Models: invariances, size extensivity, every variant x auxiliary-head combination, hidden sizes, aux loss
weight and targets, factorised vs straightforward messages."""

import itertools

import numpy as np
import pytest
import torch
from ase.build import bulk, molecule
from scipy.spatial.transform import Rotation

from vimpnn import keys
from vimpnn.bonds import perceive_bonds
from vimpnn.data import SystemArrays
from vimpnn.graphs import GraphDataset
from vimpnn.models import AUX_HEADS, VARIANTS, build_model
from vimpnn.training.loss import loss_terms, total_loss

TINY = dict(message=8, edge_width=8, n_rbf=8)
MODELS = [("mpnn", {}), ("mpnn_nobt", {})] + [("vimpnn", {"variant": v}) for v in VARIANTS]


def batch_of(atoms_list, cutoff=5.0, molecule_graph="cutoff"):
    for a in atoms_list:
        a.info.setdefault("scale", 1.0)
    arrays = SystemArrays.from_atoms(atoms_list, [0.0] * len(atoms_list),
                                     [perceive_bonds(a, a.info["scale"]) for a in atoms_list])
    b = GraphDataset(arrays, cutoff=cutoff, molecule_graph=molecule_graph).collate(list(range(len(atoms_list))))
    return {k: v.double() if v.is_floating_point() else v for k, v in b.items()}


def model(name, seed=0, **kw):
    torch.manual_seed(seed)
    m = build_model(name, **{**TINY, **kw}).double()
    with torch.no_grad():  # a non-trivial baseline and scale, as after fitting
        m.element_baseline.copy_(torch.linspace(-3.0, -1.0, len(m.elements), dtype=torch.float64))
        m.energy_scale.fill_(0.7)
    return m


@pytest.mark.parametrize("name,kw", MODELS[:3] + [MODELS[5]])
def test_energy_invariant_to_permutation_translation_rotation(name, kw):
    m = model(name, **kw)
    mol = molecule("CH3CH2OH")
    e0 = m(batch_of([mol.copy()]))[keys.ENERGY]
    moved = mol.copy()
    perm = np.random.default_rng(0).permutation(len(mol))
    moved = moved[perm]
    moved.positions = Rotation.from_euler("xyz", [0.3, -1.1, 2.0]).apply(moved.positions) + [3.0, -2.0, 7.5]
    e1 = m(batch_of([moved]))[keys.ENERGY]
    assert torch.allclose(e0, e1, atol=1e-5)  # positions are stored in float32: tolerance 1e-5 eV


@pytest.mark.parametrize("name,kw", [MODELS[0], MODELS[3]])
def test_periodic_cell_and_supercell_energy_is_extensive(name, kw):
    m = model(name, **kw)
    cell = bulk("Cu", "fcc", a=3.7)
    e1 = m(batch_of([cell]))[keys.ENERGY]
    e8 = m(batch_of([cell.repeat(2)]))[keys.ENERGY]
    assert e8.item() == pytest.approx(8 * e1.item(), rel=1e-6)


@pytest.mark.parametrize("name,kw", [MODELS[1], MODELS[3]])
def test_separated_molecules_are_additive_with_the_cutoff_graph(name, kw):
    """Two CH4 100 Å apart give 2 E(CH4) (size extensive); Gilmer's complete graph couples them."""
    m = model(name, **kw)
    pair = molecule("CH4") + molecule("CH4")
    pair.positions[5:] += [100.0, 0.0, 0.0]
    one = m(batch_of([molecule("CH4")]))[keys.ENERGY].item()
    # float32 positions 100 Å out are rounded to ~4e-6 Å
    assert m(batch_of([pair.copy()]))[keys.ENERGY].item() == pytest.approx(2 * one, abs=1e-6)
    far = m(batch_of([pair.copy()], molecule_graph="complete"))[keys.ENERGY].item()
    near = m(batch_of([molecule("CH4")], molecule_graph="complete"))[keys.ENERGY].item()
    assert abs(far - 2 * near) > 1e-3


def test_batching_does_not_change_energies():
    m = model("vimpnn", variant="c")
    systems = [molecule("CH4"), bulk("Al", "fcc", a=4.0), molecule("H2O")]
    together = m(batch_of([s.copy() for s in systems]))[keys.ENERGY]
    alone = torch.cat([m(batch_of([s.copy()]))[keys.ENERGY] for s in systems])
    assert torch.allclose(together, alone, atol=1e-10)


AUX_SETS = [list(c) for r in range(4) for c in itertools.combinations(AUX_HEADS, r)]


@pytest.mark.parametrize("name,kw", MODELS)
@pytest.mark.parametrize("aux", AUX_SETS, ids=lambda a: "+".join(a) or "none")
def test_forward_backward_every_variant_and_aux(name, kw, aux):
    m = model(name, aux=aux, **kw)
    b = batch_of([molecule("CH3OH"), bulk("Al", "fcc", a=4.2)])
    out = m(b)
    assert out[keys.ENERGY].shape == (2,) and out[keys.NODE_ENERGY].shape == (7,)
    assert set(out) == {keys.ENERGY, keys.NODE_ENERGY, *aux}
    assert torch.allclose(out[keys.NODE_ENERGY].sum(), out[keys.ENERGY].sum())
    total_loss(loss_terms(m, out, b), 0.3).backward()
    grads = [p.grad for p in m.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0


@pytest.mark.parametrize("variant,hidden", [("a.i", 73), ("a.ii", 73), ("b.i", 219), ("b.ii", 219), ("c", 73)])
def test_hidden_state_sizes(variant, hidden):
    m = build_model("vimpnn", variant=variant)
    assert m.hidden == hidden
    assert m.readout.mlp[0].in_features == 2 * hidden
    heads = build_model("vimpnn", variant=variant, aux=list(AUX_HEADS)).aux_heads
    assert all(h.mlp[0].in_features == hidden for h in heads.values())  # h_T only, not h_0
    assert all(net.in_dim == hidden and net.out_dim == 73 for net in m.edge_nets)


@pytest.mark.parametrize("head", AUX_HEADS)
def test_aux_head_adds_alpha_times_its_mse(head):
    b = batch_of([molecule("CH3OH"), molecule("H2O")])
    b[keys.REF_ENERGY] = torch.tensor([-1.0, 2.0], dtype=torch.float64)
    b[keys.SCALE] = torch.tensor([1.2, 0.95], dtype=torch.float64)
    plain = model("vimpnn")
    with_head = model("vimpnn", aux=[head])
    with_head.load_state_dict(plain.state_dict(), strict=False)  # same shared weights
    out = with_head(b)
    loss_on = total_loss(loss_terms(with_head, out, b), 0.3)
    loss_off = total_loss(loss_terms(plain, plain(b), b), 0.3)
    target = with_head.aux_target(head, b)
    mse = (((out[head] - target) / with_head.aux_scale(head)) ** 2).mean()
    assert (loss_on - loss_off).item() == pytest.approx(0.3 * mse.item(), rel=1e-12)
    if head == "n_atoms_per_type":
        assert target[0].tolist() == [4, 1, 0, 1, 0, 0, 0]  # CH3OH: 4 H, 1 C, 1 O
    if head == "n_orbitals_per_type":
        assert target[0].tolist() == [4, 4, 0, 2, 0, 0, 0]  # CH3OH sigma bonds: 4 H-X, C 4, O 2
        assert target[1].tolist() == [2, 0, 0, 2, 0, 0, 0]  # H2O: 2 x 1 (H) + 2 (O)
    if head == "scaling_gaussian":
        centres = np.linspace(0.8, 1.6, 17)
        expected = np.exp(-0.5 * ((centres - np.array([[1.2], [0.95]])) / 0.05) ** 2)
        assert target.numpy() == pytest.approx(expected / expected.sum(1, keepdims=True))
        assert out[head].sum(1).tolist() == pytest.approx([1.0, 1.0])  # a probability distribution


@pytest.mark.parametrize("name,kw", MODELS)
def test_factorised_messages_equal_straightforward(name, kw):
    b = batch_of([molecule("C6H6"), bulk("Cu", "fcc", a=3.6), molecule("CH3OH")])
    outs, grads = {}, {}
    for form in ("matrix", "factorised", "auto"):
        m = model(name, message_form=form, **kw)
        out = m(b)
        out[keys.ENERGY].sum().backward()
        outs[form] = out[keys.NODE_ENERGY].detach()
        grads[form] = torch.cat([p.grad.flatten() for p in m.parameters() if p.grad is not None])
    for form in ("factorised", "auto"):
        assert torch.allclose(outs[form], outs["matrix"], rtol=1e-10, atol=1e-10)
        assert torch.allclose(grads[form], grads["matrix"], rtol=1e-8, atol=1e-10)


def test_unknown_element_is_a_user_error():
    from vimpnn.errors import VimpnnError

    with pytest.raises(VimpnnError, match=r"\[16\]"):
        model("mpnn")(batch_of([molecule("SH2")]))


def normalised_targets(m, head, b):
    """Targets divided by their RMS per component over the set, as the trainer standardises them."""
    t = m.aux_target(head, b)
    rms = t.pow(2).mean(0).sqrt()
    return t / torch.where(rms > 0, rms, torch.ones_like(rms))


def test_orbital_target_carries_what_atom_counts_do_not():
    m = model("vimpnn", aux=["n_atoms_per_type", "n_orbitals_per_type"])
    isomers = batch_of([molecule("C3H4_C3v"), molecule("C3H4_C2v")])  # propyne, cyclopropene: both C3H4
    counts, orbitals = (m.aux_target(h, isomers) for h in ("n_atoms_per_type", "n_orbitals_per_type"))
    assert torch.equal(counts[0], counts[1])
    assert orbitals[0, 1].item() == 8 and orbitals[1, 1].item() == 10  # C sigma bonds: 4+2+2 vs 3+3+4
    mixes = batch_of([molecule(n) for n in ("CH4", "NH3", "C2H2", "C2H4", "H2O", "HCN", "CH3OH")])
    a, o = (normalised_targets(m, h, mixes) for h in ("n_atoms_per_type", "n_orbitals_per_type"))
    assert (a - o).abs().max() > 0.1  # a per-element constant x count would standardise to the same target


def test_scaling_target_tells_compression_from_stretch():
    m = model("vimpnn", aux=["scaling_gaussian"])
    b = batch_of([molecule("H2O"), molecule("H2O")])
    b[keys.SCALE] = torch.tensor([0.9, 1.1], dtype=torch.float64)
    t = m.aux_target("scaling_gaussian", b)
    centres = np.linspace(0.8, 1.6, 17)
    assert centres[int(t[0].argmax())] == pytest.approx(0.9) and centres[int(t[1].argmax())] == pytest.approx(1.1)
    assert (t[0] - t[1]).abs().max() > 0.3
