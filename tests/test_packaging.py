"""Packaging: one version source, licence and citation files, package data, optional extras that fail with a hint."""

import re
import sys
import tomllib

import pytest
import yaml

import vimpnn
from tests.conftest import ROOT
from vimpnn.extras import MissingExtraError, require


def test_one_version_source_and_citation_matches():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" not in project and project["dynamic"] == ["version"]
    assert project["license"] == "MIT" and (ROOT / "LICENSE").read_text().startswith("MIT License")
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert citation["version"] == vimpnn.__version__ and citation["license"] == "MIT"
    assert "VIMPNN" in citation["preferred-citation"]["title"]
    assert f"## {vimpnn.__version__}" in (ROOT / "CHANGELOG.md").read_text()


def test_core_dependencies_are_the_training_ones():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = {re.split(r"[<>=\[ ]", d)[0] for d in project["dependencies"]}
    assert core == {"numpy", "h5py", "torch", "ase", "pyyaml", "tqdm", "vesin"}  # vesin: the graphs' neighbour list
    extras = project["optional-dependencies"]
    assert {"dft", "workflow", "report", "slurm", "peer", "dev"} <= set(extras)
    assert not any("slurm" in d for d in extras["dev"])
    # schnetpack itself goes in with --no-deps (its sympy pin would make pip replace torch): `make setup` does it
    assert not any(d.startswith("schnetpack") for d in extras["peer"])
    from vimpnn.extras import NO_DEPS

    assert f"SCHNETPACK ?= {NO_DEPS['schnetpack']}" in (ROOT / "Makefile").read_text()


def test_package_data_ships_templates_qm9_and_marker():
    from vimpnn.dft.templates import TEMPLATE_DIR
    from vimpnn.structures.qm9 import SHIPPED

    pkg = ROOT / "vimpnn"
    assert TEMPLATE_DIR.is_relative_to(pkg) and SHIPPED.is_relative_to(pkg)
    assert sorted(p.name for p in TEMPLATE_DIR.glob("*.inp")) == ["bulk_metal.inp", "metal_cluster.inp", "molecule.inp"]
    assert SHIPPED.stat().st_size > 1_000_000 and (pkg / "py.typed").exists()


def test_missing_extra_names_it_in_one_line(monkeypatch):
    from ase.build import molecule

    from vimpnn.bonds import perceive_bonds

    for name in ("rdkit", "rdkit.Chem", "rdkit.Chem.rdDetermineBonds"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(MissingExtraError, match=r"needs rdkit, which is not installed: pip install 'vimpnn\[dft\]'"):
        perceive_bonds(molecule("CH4"))
    monkeypatch.setitem(sys.modules, "schnetpack", None)
    with pytest.raises(MissingExtraError, match=r"vimpnn\[peer\]' && pip install --no-deps 'schnetpack=="):
        require("schnetpack", "the SchNet peer model")
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingExtraError, match=r"vimpnn\[report\]"):
        require("matplotlib", "drawing figures")
