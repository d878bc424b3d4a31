"""Metrics against hand-computed values; DSC with minima between sampled scalings."""

import numpy as np
import pytest

from vimpnn import metrics


def test_mae_mse_re_by_hand():
    ref = np.array([-2.0, 4.0, 1.0])
    pred = np.array([-1.0, 4.5, 1.0])
    # errors 1, 0.5, 0 -> MAE mean 0.5, std sqrt(((0.5)^2 + 0 + 0.5^2) / 3)
    assert metrics.mae(pred, ref) == pytest.approx({"mean": 0.5, "std": np.sqrt(0.5 / 3)})
    assert metrics.mse(pred, ref)["mean"] == pytest.approx((1 + 0.25 + 0) / 3)
    assert metrics.relative_error(pred, ref)["mean"] == pytest.approx((0.5 + 0.125 + 0) / 3)


def test_re_is_relative_to_the_atomization_energy(tmp_path):
    """CH4 at E = -240.0 eV with isolated C -146.0 and H -13.6 eV: atomization energy -39.6 eV, so an
    error of 0.396 eV is RE 1e-2 (against the total energy it would be 1.65e-3)."""
    from ase.build import molecule

    from vimpnn.data import SystemArrays
    from vimpnn.training.normalise import isolated_atom_energy

    arrays = SystemArrays.from_atoms([molecule("CH4")], [-240.0], attrs={
        "reference_energies": {"energies": {"C": -146.0, "H": -13.6}}})
    atoms = isolated_atom_energy(arrays)
    assert atoms == pytest.approx([-146.0 - 4 * 13.6])
    summary = metrics.summarise(np.array([-240.396]), arrays.energy, arrays.scale, arrays.group, np.ones(1), atoms)
    assert summary["re"]["mean"] == pytest.approx(1e-2)
    arrays.attrs["reference_energies"]["energies"].pop("H")
    assert isolated_atom_energy(arrays) is None


def test_parabola_minimum_between_samples_is_exact():
    s = np.linspace(0.9, 1.5, 10)
    e = 3.0 * (s - 1.07) ** 2 - 5.0
    assert metrics.curve_minimum(s[::-1], e[::-1]) == pytest.approx(1.07, abs=1e-12)


def test_minimum_at_the_end_of_the_scan_is_the_end_sample():
    s = np.linspace(0.9, 1.5, 7)
    assert metrics.curve_minimum(s, -s) == pytest.approx(1.5)


def test_dsc_in_angstrom_per_curve():
    s = np.linspace(0.9, 1.5, 10)
    ref = np.concatenate([(s - 1.0) ** 2, (s - 1.1) ** 2]) - 5.0
    pred = np.concatenate([(s - 1.05) ** 2 - 4.7, (s - 1.1) ** 2 - 5.0])
    group = np.repeat([7, 8], 10)
    length = np.repeat([1.5, 2.0], 10)  # Å, characteristic length of each curve
    per_curve = metrics.dsc_per_curve(np.tile(s, 2), ref, pred, group, length)
    assert per_curve[7] == pytest.approx(0.05 * 1.5, abs=1e-9)
    assert per_curve[8] == pytest.approx(0.0, abs=1e-9)
    summary = metrics.summarise(pred, ref, np.tile(s, 2), group, length, None)
    assert summary["dsc"] == pytest.approx({"mean": 0.0375, "std": 0.0375, "n_curves": 2})
    assert summary["n"] == 20


def test_dsc_is_null_without_curves():
    s = np.ones(4)
    summary = metrics.summarise(np.zeros(4) + 1.0, np.ones(4), s, np.arange(4), np.ones(4), None)
    assert summary["dsc"] is None and summary["re"] is None  # no isolated-atom energies: no RE
    assert summary["mae"]["mean"] == 0.0


def test_curve_with_minimum_at_the_scan_end_is_excluded_not_a_perfect_score():
    """A scan starting at s = 1.02 with both minima below it: curve_minimum gives 1.02 for both, which would
    read as DSC 0; the curve is excluded and counted instead."""
    s = np.linspace(1.02, 1.5, 8)
    ref, pred = (s - 1.0) ** 2, (s - 0.97) ** 2
    assert metrics.dsc_per_curve(s, ref, pred, np.zeros(8), np.ones(8)) == {}
    summary = metrics.summarise(pred, ref, s, np.zeros(8), np.ones(8), None)
    assert summary["dsc"] is None and summary["dsc_excluded"] == 1
    both = metrics.summarise(np.tile(pred, 2), np.concatenate([ref, (s - 1.2) ** 2]), np.tile(s, 2),
                             np.repeat([0, 1], 8), np.ones(16), None)
    assert both["dsc"]["n_curves"] == 1 and both["dsc_excluded"] == 1
