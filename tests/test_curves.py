"""The energy-curve check (vimpnn.data.curves) on the shipped mini release."""

from __future__ import annotations

import numpy as np

from tests.conftest import ROOT
from vimpnn.cli.main import main
from vimpnn.data import curves
from vimpnn.data.hdf5 import read_dataset

DATA = ROOT / "datasets" / "release" / "augqm9.h5"


def test_smooth_curves_pass_and_a_state_off_its_curve_is_flagged(capsys):
    a = read_dataset(DATA)
    assert len(curves.curves(a)) == len(np.unique(a.group))  # one curve of 10 scalings per molecule
    found = curves.check(a)
    assert found.outliers == [] and np.nanmax(found.deviation) < 0.05
    k = int(np.flatnonzero(a.scale == np.sort(np.unique(a.scale))[1])[0])  # s = 0.967, as the H2O found
    a.energy[k] += 0.3 * a.n_atoms[k]  # 0.3 eV/atom: far less than that H2O's 7.4
    assert curves.check(a).outliers == [k]
    a.energy[k] -= 0.25 * a.n_atoms[k]  # 0.05 eV/atom: within the smooth curves' spread, not flagged
    assert curves.check(a).outliers == []


def test_info_prints_the_curve_check(capsys):
    assert main(["info", str(DATA)]) == 0
    assert "none off its curve" in capsys.readouterr().out
