"""Fast tests of vimpnn.dft: templates, parsing, settings, cache, retry ladder and faults (fake cp2k.psmp), EMT."""

from __future__ import annotations

import json
import logging
import math
import multiprocessing
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from ase import Atoms
from ase.build import bulk, molecule
from ase.calculators.emt import EMT
from ase.units import Hartree, kcal, mol

from tests import fake_cp2k
from tests.conftest import ROOT
from vimpnn.dft import compute, handlers, templates
from vimpnn.dft.parsing import parse_output
from vimpnn.dft.settings import for_template, resolve
from vimpnn.errors import DFTSetupError, InputFormatError
from vimpnn.structures.io import write_structures

DATA = ROOT / "tests" / "data" / "dft"


def tagged(atoms, sid, scale=1.0):
    atoms.info.update(system_id=sid, scale=scale)
    return atoms


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """Put the fake cp2k.psmp first on PATH; returns (set_mode, log path)."""
    log = tmp_path / "calls.log"

    def use(mode: str, **extra: str):
        for k, v in fake_cp2k.environment(tmp_path / "bin", mode, log, **extra).items():
            monkeypatch.setenv(k, v)

    return use, log


# --- templates -----------------------------------------------------------------------------------------------

def test_render_is_deterministic_and_hash_follows_settings():
    s = resolve({})
    ch4 = tagged(molecule("CH4"), "ch4")
    a, b = templates.render(ch4, s), templates.render(ch4.copy(), s)
    assert a.text == b.text and a.input_hash == b.input_hash and len(a.input_hash) == 64
    assert templates.render(ch4, resolve({"cutoff": 300})).input_hash != a.input_hash
    assert "CUTOFF 400.0" in a.text and "POISSON_SOLVER WAVELET" in a.text and "&OT" in a.text
    assert "UKS" not in a.text  # closed shell


def test_element_cutoff_lowers_the_grid_only_where_every_element_is_converged():
    """Al clusters and cells at Al's 200 Ry, Cu and mixed structures at `cutoff`; never above `cutoff`. The
    recorded level is the rule, the same for Al and Cu, so `vimpnn pack` sees one level of theory."""
    from vimpnn.dft.runner import SETTINGS_RECORD

    s = resolve({})
    al, cu = Atoms("Al3", positions=[[0, 0, 0], [2.8, 0, 0], [0, 2.8, 0]]), bulk("Cu", "fcc", a=3.61)
    alcu = Atoms("Al2Cu", positions=[[0, 0, 0], [2.8, 0, 0], [0, 2.8, 0]])
    rendered = {k: templates.render(tagged(a, k), s) for k, a in
                {"al": al, "al_cell": bulk("Al", "fcc", a=4.05), "cu": cu, "alcu": alcu}.items()}
    grid = {k: float(r.text.split("CUTOFF ")[1].split()[0]) for k, r in rendered.items()}
    assert grid == {"al": 200, "al_cell": 200, "cu": 400, "alcu": 400}
    # one level for all: the record keeps the rule (cutoff 400, Al at 200), not each structure's grid
    assert {(r.settings["cutoff"], r.settings["element_cutoff"]["Al"]) for r in rendered.values()} == {(400, 200)}
    cu3 = templates.render(tagged(Atoms("Cu3", positions=[[0, 0, 0], [2.5, 0, 0], [0, 2.5, 0]]), "cu3"), s)
    assert "CUTOFF 400.0" in cu3.text
    assert {k: rendered["al"].settings[k] for k in SETTINGS_RECORD} == {k: cu3.settings[k] for k in SETTINGS_RECORD}
    assert "CUTOFF 150.0" in templates.render(tagged(al, "al"), resolve({"cutoff": 150})).text
    assert "CUTOFF 400.0" in templates.render(tagged(al, "al"), resolve({"element_cutoff": {"Al": 400}})).text
    assert "CUTOFF 400.0" in templates.render(tagged(molecule("CH4"), "ch4"), s).text


def test_template_choice_and_spin():
    assert templates.choose_template(molecule("H2O")) == "molecule"
    assert templates.choose_template(Atoms("Cu2", positions=[[0, 0, 0], [2.3, 0, 0]])) == "metal_cluster"
    assert templates.choose_template(bulk("Al", "fcc", a=4.05)) == "bulk_metal"
    s = resolve({})
    carbon = templates.render(tagged(Atoms("C"), "c"), s).text
    assert "UKS .TRUE." in carbon and "MULTIPLICITY 3" in carbon
    ch3 = templates.render(tagged(molecule("CH3"), "ch3"), s).text
    assert "MULTIPLICITY 2" in ch3
    copper = templates.render(tagged(Atoms("Cu"), "cu"), s).text
    assert "UKS .TRUE." in copper and "MULTIPLICITY 2" in copper and "&SMEAR" in copper
    for metal in (bulk("Cu", "fcc", a=3.61), Atoms("Al3", positions=[[0, 0, 0], [2.8, 0, 0], [0, 2.8, 0]])):
        assert "UKS" not in templates.render(tagged(metal, "m"), s).text  # smeared RKS despite odd electrons


def test_dataset_box_holds_the_largest_scaling_and_is_shared_by_all_scalings():
    s = resolve({"box": "dataset"})
    ref = molecule("C6H6")
    extent = np.ptp(ref.get_positions(), axis=0)
    boxes = []
    for scale in (0.9, 1.0, 1.5):
        atoms = ref.copy()
        atoms.set_positions((ref.get_positions() - ref.get_positions().mean(0)) * scale)
        atoms.info["scale"] = scale
        lengths, centred = templates.box(atoms, s)
        boxes.append(lengths)
        assert np.all(centred.min(0) >= s["vacuum"] - 1e-9) and np.all(centred.max(0) <= lengths - s["vacuum"] + 1e-9)
    assert np.allclose(boxes[0], boxes[1]) and np.allclose(boxes[1], boxes[2])
    assert np.all(boxes[0] >= 1.5 * extent + 2 * s["vacuum"])


def _scaled_benzene(scale: float) -> Atoms:
    ref = molecule("C6H6")
    atoms = ref.copy()
    atoms.set_positions((ref.get_positions() - ref.get_positions().mean(0)) * scale)
    atoms.info.update(system_id=f"c6h6-{scale}", scale=scale)
    return atoms


def test_structure_box_shrinks_with_compression_but_keeps_the_vacuum():
    shared, own = resolve({"box": "dataset", "max_scale": 1.5}), resolve({"box": "structure", "max_scale": 1.5})
    extent_ref = np.ptp(molecule("C6H6").get_positions(), axis=0).max()  # 4.97 Å: 1.5 x + 8 = 15.5 Å
    sides = {}
    for scale in (0.9, 1.0, 1.5):
        atoms = _scaled_benzene(scale)
        (side, *_), centred = templates.box(atoms, own)
        sides[scale] = side
        # the padding rule: the structure's own extent + 2 x 4 Å, rounded up to 0.5 Å, centred
        assert side == math.ceil(2 * (scale * extent_ref + 8.0) - 1e-6) / 2
        assert np.all(centred.min(0) >= 4.0 - 1e-9) and np.all(centred.max(0) <= side - 4.0 + 1e-9)
        assert side <= templates.box(atoms, shared)[0][0]
    assert sides[0.9] == 12.5 and templates.box(_scaled_benzene(0.9), shared)[0][0] == 15.5  # 0.52x the grid
    assert sides[1.5] == templates.box(_scaled_benzene(1.5), shared)[0][0]  # the largest scaling: same box
    # growth_stable (max_scale 1.0, s = 1.0): the two rules give the same box, hence the same input and cache entry
    atoms = _scaled_benzene(1.0)
    assert (templates.render(atoms, resolve({"box": "structure", "max_scale": 1.0})).text
            == templates.render(atoms, resolve({"box": "dataset", "max_scale": 1.0})).text)


def test_box_rule_changes_the_input_and_the_cache_key(fake, tmp_path):
    use, log = fake
    use("ok")
    atoms = _scaled_benzene(0.9)
    texts = {rule: templates.render(atoms, resolve({"box": rule})).text for rule in ("dataset", "structure")}
    assert "A 15.5 0.0 0.0" in texts["dataset"] and "A 12.5 0.0 0.0" in texts["structure"]
    assert templates.render(atoms, resolve({})).text == texts["dataset"]  # the default: one box per curve
    for rule in ("dataset", "structure", "dataset"):
        (r,) = compute([atoms], {"box": rule}, cache_dir=tmp_path / "c")
        assert r.status == "ok" and r.settings["box"] == rule
    assert fake_cp2k.calls(log) == 2  # the third is the first one's cache entry
    with pytest.raises(DFTSetupError, match="box"):
        resolve({"box": "per-structure"})


def test_kgrid_from_unscaled_cell_and_explicit():
    s = for_template(resolve({"kpoint_length": 20.0}), "bulk_metal")
    cells = []
    for f in (0.9, 1.0, 1.3):
        c = bulk("Al", "fcc", a=4.05 * f)
        c.info["scale"] = f
        cells.append(templates.kgrid(c, s))
    assert cells == [(8, 8, 8)] * 3  # |a| = 2.864 Å: ceil(20 / 2.864) = 7, rounded up to even
    assert templates.kgrid(bulk("Al"), {**s, "kpoints": [2, 3, 4]}) == (2, 3, 4)
    slab = Atoms("Al", cell=[2.86, 2.86, 40.0], pbc=True)
    assert templates.kgrid(slab, s) == (8, 8, 1)
    text = templates.render(tagged(bulk("Al", "fcc", a=4.05), "al"), resolve({"kpoints": [4, 4, 4]})).text
    assert "SCHEME MONKHORST-PACK 4 4 4" in text


def test_settings_layers():
    s = resolve({"cutoff": 350, "templates": {"bulk_metal": {"cutoff": 500}}})
    assert for_template(s, "molecule")["cutoff"] == 350
    assert for_template(s, "bulk_metal")["cutoff"] == 500
    assert for_template(s, "bulk_metal")["max_scf"] == 100  # template default
    assert for_template(s, "molecule")["basis_set"] == "TZV2P-MOLOPT-PBE-GTH"
    assert for_template(s, "molecule")["potential_file"] == "NLCC_POTENTIALS"
    assert for_template(s, "molecule")["element_basis"] == {"H": {"basis_set": "ccGRB-T", "basis_file": "BASIS_ccGRB_UZH"}}
    assert for_template(s, "metal_cluster")["element_basis"] == {}
    assert for_template(s, "metal_cluster")["basis_set"] == "DZVP-MOLOPT-SR-GTH"
    assert for_template(resolve({"max_scf": 70}), "bulk_metal")["max_scf"] == 70  # user beats template
    with pytest.raises(DFTSetupError, match="cutof"):
        resolve({"cutof": 300})


def test_invalid_override_is_rejected_by_cp2k_schema():
    with pytest.raises(Exception, match="(?i)nonsense"):
        templates.render(tagged(molecule("H2"), "h2"), resolve({"overrides": {"force_eval/dft/nonsense": 1}}))


def test_missing_basis_names_element_and_set():
    with pytest.raises(DFTSetupError, match=r"element Xe has no basis set DZVP-MOLOPT-GTH in .*BASIS_MOLOPT"):
        templates.render(tagged(Atoms("Xe"), "xe"), resolve({"basis_set": "DZVP-MOLOPT-GTH"}))
    with pytest.raises(DFTSetupError, match=r"element Si has no .*EMT"):
        compute([tagged(Atoms("Si"), "si")], {"backend": "emt"})


def test_valence_specific_names_are_spelled_per_element():
    """BASIS_MOLOPT_UZH / POTENTIAL_UZH name sets only with -q<N>: each KIND gets its element's spelling."""
    uzh = {"basis_set": "DZVP-MOLOPT-PBE-GTH", "basis_file": "BASIS_MOLOPT_UZH", "potential": "GTH-PBE",
           "potential_file": "POTENTIAL_UZH"}
    text = templates.render(tagged(molecule("CH4"), "ch4"), resolve({"templates": {"molecule": uzh}})).text
    assert "BASIS_SET DZVP-MOLOPT-PBE-GTH-q4" in text and "BASIS_SET DZVP-MOLOPT-PBE-GTH-q1" in text
    assert "POTENTIAL GTH-PBE-q4" in text and "POTENTIAL GTH-PBE-q1" in text
    text = templates.render(tagged(molecule("CH4"), "ch4"), resolve({"templates": {"molecule": {
        "basis_set": "DZVP-MOLOPT-GTH", "basis_file": "BASIS_MOLOPT", "potential": "GTH-PBE",
        "potential_file": "GTH_POTENTIALS"}}})).text
    assert "BASIS_SET DZVP-MOLOPT-GTH\n" in text and "POTENTIAL GTH-PBE\n" in text  # names the file defines stay


def test_element_basis_takes_its_set_from_its_own_file():
    """H from BASIS_ccGRB_UZH beside C from BASIS_MOLOPT_UZH: both files are read, each KIND names its set."""
    level = {"basis_set": "TZV2P-MOLOPT-PBE-GTH", "basis_file": "BASIS_MOLOPT_UZH", "potential": "GTH-PBE",
             "potential_file": "POTENTIAL_UZH",
             "element_basis": {"H": {"basis_set": "ccGRB-T", "basis_file": "BASIS_ccGRB_UZH"}}}
    rendered = templates.render(tagged(molecule("CH4"), "ch4"), resolve({"templates": {"molecule": level}}))
    kinds = {e: k["basis_set"] for e, k in rendered.tree["force_eval"]["subsys"]["kind"].items()}
    assert kinds == {"C": "TZV2P-MOLOPT-PBE-GTH-q4", "H": "ccGRB-T-q1"}
    assert rendered.text.count("BASIS_SET_FILE_NAME") == 2 and "BASIS_SET_FILE_NAME BASIS_ccGRB_UZH" in rendered.text
    # an input without hydrogen reads one file only
    co = templates.render(tagged(molecule("CO"), "co"), resolve({"templates": {"molecule": level}}))
    assert co.text.count("BASIS_SET_FILE_NAME") == 1
    level["element_basis"]["H"]["basis_set"] = "no-such-set"
    with pytest.raises(DFTSetupError, match=r"element H has no basis set no-such-set in .*BASIS_ccGRB_UZH"):
        templates.render(tagged(molecule("CH4"), "ch4"), resolve({"templates": {"molecule": level}}))


def test_element_basis_is_replaced_not_merged():
    """The basis is chosen as a whole: a layer naming basis_set, basis_file or element_basis drops lower layers'
    per-element sets (a user's basis_set never runs beside the template default's H set)."""
    hydrogen = {"H": {"basis_set": "ccGRB-T", "basis_file": "BASIS_ccGRB_UZH"}}
    oxygen = {"O": {"basis_set": "ccGRB-T", "basis_file": "BASIS_ccGRB_UZH"}}
    s = resolve({"element_basis": hydrogen, "templates": {"molecule": {"element_basis": oxygen}}})
    assert for_template(s, "molecule")["element_basis"] == oxygen
    assert for_template(s, "metal_cluster")["element_basis"] == hydrogen
    s = resolve({"element_basis": hydrogen, "templates": {"molecule": {"element_basis": {}}}})
    assert for_template(s, "molecule")["element_basis"] == {}
    # another basis set for the level, without per-element sets: none, whatever a lower layer had
    s = resolve({"element_basis": hydrogen, "templates": {"molecule": {"basis_set": "DZVP-MOLOPT-GTH"}}})
    assert for_template(s, "molecule")["element_basis"] == {}
    assert for_template(s, "metal_cluster")["element_basis"] == hydrogen
    with pytest.raises(DFTSetupError, match="basis_file"):
        resolve({"element_basis": {"H": {"basis_set": "ccGRB-T"}}})


# --- parsing (a real CP2K 2023.1 output) ---------------------------------------------------------------------

def test_parse_real_output():
    p = parse_output((DATA / "ch4_molecule.out").read_text())
    assert p.energy_ev == pytest.approx(-8.074486144623192 * Hartree, abs=1e-9)
    assert p.scf_converged is True and p.scf_steps == 13 and p.ended
    assert p.code_version == "CP2K version 2023.1"


def test_parse_unconverged_and_empty():
    p = parse_output("     1 OT DIIS 0.8 1.0 0.1 -1.0 -1.0\n     2 OT DIIS 0.8 1.0 0.1 -1.0 -1.0\n"
                     " *** SCF run NOT converged ***\n")
    assert p.scf_converged is False and p.scf_steps == 2 and p.energy_ev is None
    assert parse_output("").scf_converged is None


# --- faults (fake binary) ------------------------------------------------------------------------------------

def test_missing_binary_fails_before_any_work(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(DFTSetupError, match=r"cp2k.psmp.*not found.*apt-get install cp2k"):
        compute([tagged(molecule("H2"), "h2")], {}, cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize("structure", [
    tagged(Atoms("H2", positions=[[0, 0, 0], [0, 0, math.nan]]), "bad-nan"),
    tagged(Atoms("H2", positions=[[0, 0, 0], [0, 0, math.inf]]), "bad-inf"),
    tagged(Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.2]]), "bad-close"),
    tagged(Atoms("Al", cell=[0.25, 3, 3], pbc=True), "bad-image"),
])
def test_bad_geometry_rejected_with_id(structure, fake, tmp_path):
    use, log = fake
    use("ok")
    with pytest.raises(InputFormatError, match=structure.info["system_id"]):
        compute([tagged(molecule("H2"), "good"), structure], {}, cache_dir=tmp_path / "cache")
    assert fake_cp2k.calls(log) == 0


def test_ok_run_energy_units_and_record(fake, tmp_path):
    use, log = fake
    use("ok")
    (r,) = compute([tagged(molecule("CH4"), "ch4")], {}, cache_dir=tmp_path / "cache")
    assert r.status == "ok" and r.energy == pytest.approx(-2.5 * Hartree) and r.reason is None
    assert r.backend == "cp2k" and r.scf_converged and r.scf_steps == 7 and "2023.1" in r.code_version
    assert r.settings["template"] == "molecule" and r.settings["cutoff"] == 400
    assert len(r.settings["template_hash"]) == 64
    assert [a["step"] for a in r.attempts] == ["initial"]
    assert not any((tmp_path / "cache" / "scratch").iterdir())  # scratch removed after the run


@pytest.mark.parametrize("mode, reason", [
    ("noenergy", "no total energy"), ("unconverged", "SCF not converged"), ("crash", "exited with status 1"),
])
def test_failures_go_through_the_ladder_and_never_carry_an_energy(mode, reason, fake, tmp_path):
    use, log = fake
    use(mode)
    (r,) = compute([tagged(molecule("CH4"), "ch4")], {}, cache_dir=tmp_path / "cache")
    assert r.status == "failed" and r.energy is None and reason in r.reason
    steps = [a["step"] for a in r.attempts]
    assert steps == ["initial", "more_scf_steps", "diagonalisation_smearing", "smaller_mixing"]
    assert fake_cp2k.calls(log) == 4
    (again,) = compute([tagged(molecule("CH4"), "ch4")], {}, cache_dir=tmp_path / "cache")
    assert again.cached and again.status == "failed" and fake_cp2k.calls(log) == 4


def test_ladder_recovers(fake, tmp_path):
    use, log = fake
    use("retry_ok")
    (r,) = compute([tagged(bulk("Al", "fcc", a=4.05), "al")], {"max_scf": 60}, cache_dir=tmp_path / "c")
    assert r.status == "ok" and [a["step"] for a in r.attempts] == ["initial", "more_scf_steps"]
    assert r.attempts[0]["status"] == "failed" and fake_cp2k.calls(log) == 2


def test_walltime_limit_is_a_failure_not_retried_not_cached(fake, tmp_path):
    use, log = fake
    use("sleep")
    (r,) = compute([tagged(molecule("H2"), "h2")], {"walltime_s": 0.5}, cache_dir=tmp_path / "c")
    assert r.status == "failed" and "wall-time" in r.reason and len(r.attempts) == 1
    assert not any((tmp_path / "c").glob("*/*.json"))


def test_parallel_jobs_keep_order(fake, tmp_path):
    use, log = fake
    use("ok")
    mols = [tagged(Atoms("H" * n, positions=[[0, 0, 0.8 * k] for k in range(n)]), f"h{n}") for n in (2, 3, 4, 5)]
    results = compute(mols, {"jobs": 3}, cache_dir=tmp_path / "c")
    assert [r.system_id for r in results] == ["h2", "h3", "h4", "h5"]
    assert [r.energy for r in results] == pytest.approx([-0.5 * n * Hartree for n in (2, 3, 4, 5)])


def test_kill_9_mid_batch_then_rerun_computes_only_the_rest(tmp_path):
    mols = [tagged(Atoms("H" * n, positions=[[0, 0, 0.8 * k] for k in range(n)]), f"h{n}") for n in range(2, 8)]
    write_structures(tmp_path / "s.extxyz", mols)
    log = tmp_path / "calls.log"
    cmd = [sys.executable, "-m", "vimpnn.cli.main", "dft", "--in", str(tmp_path / "s.extxyz"), "--out",
           str(tmp_path / "r.jsonl"), "--cache", str(tmp_path / "cache"), "--no-progress"]
    env = os.environ | fake_cp2k.environment(tmp_path / "bin", "kill_parent", log, FAKE_CP2K_KILL_AT="3")
    first = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    assert first.returncode == -9 and not (tmp_path / "r.jsonl").exists()
    assert fake_cp2k.calls(log) == 3  # two finished, the third killed with its parent
    second = subprocess.run(cmd, env=env | {"FAKE_CP2K_KILL_AT": "0"}, cwd=ROOT, capture_output=True, text=True)
    assert second.returncode == 0, second.stderr
    assert fake_cp2k.calls(log) == 3 + 4  # only the four unfinished ones ran again
    records = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert [r["system_id"] for r in records] == [m.info["system_id"] for m in mols]
    assert all(r["status"] == "ok" for r in records) and "2 from cache" in second.stdout
    assert "another process" not in second.stderr  # the killed process's claim on the third was taken over


# --- cache: key, stale failures, invalid entries, claims, scratch --------------------------------------------

def test_cache_key_follows_cp2k_version_and_basis_file_content(fake, tmp_path, monkeypatch):
    use, log = fake
    use("ok")
    installed = templates.basis.data_dir(resolve({}))
    data = tmp_path / "data"
    data.mkdir()
    molecule_level = for_template(resolve({}), "molecule")
    basis_file = molecule_level["basis_file"]
    extra = [b["basis_file"] for b in molecule_level["element_basis"].values()]
    for name in (basis_file, molecule_level["potential_file"], *extra):
        shutil.copy(installed / name, data / name)
    ch4, settings = [tagged(molecule("CH4"), "ch4")], {"data_dir": str(data)}
    (first,) = compute(ch4, settings, cache_dir=tmp_path / "c")
    (again,) = compute(ch4, settings, cache_dir=tmp_path / "c")
    assert again.cached and fake_cp2k.calls(log) == 1
    # another CP2K (the version is asked once per binary and process: a second fake binary)
    for k, v in fake_cp2k.environment(tmp_path / "bin2", "ok", log, FAKE_CP2K_VERSION="CP2K version 2024.1").items():
        monkeypatch.setenv(k, v)
    (upgraded,) = compute(ch4, settings, cache_dir=tmp_path / "c")
    assert not upgraded.cached and fake_cp2k.calls(log) == 2 and upgraded.code_version == "CP2K version 2024.1"
    with open(data / basis_file, "a") as fh:
        fh.write("# an edited basis file\n")
    (edited,) = compute(ch4, settings, cache_dir=tmp_path / "c")
    assert not edited.cached and fake_cp2k.calls(log) == 3
    assert compute(ch4, settings, cache_dir=tmp_path / "c")[0].cached and fake_cp2k.calls(log) == 3
    assert first.input_hash == upgraded.input_hash == edited.input_hash  # the same input, not the same result


def test_cached_failure_reruns_after_larger_max_retries_or_ladder_change(fake, tmp_path, monkeypatch):
    use, log = fake
    use("retry_ok")  # converges once MAX_SCF >= 100: the first rung (more_scf_steps) fixes it
    ch4, cache = [tagged(molecule("CH4"), "ch4")], tmp_path / "c"
    (r,) = compute(ch4, {"max_retries": 0}, cache_dir=cache)
    assert r.status == "failed" and r.settings["max_retries"] == 0 and fake_cp2k.calls(log) == 1
    assert compute(ch4, {"max_retries": 0}, cache_dir=cache)[0].cached and fake_cp2k.calls(log) == 1
    (r,) = compute(ch4, {"max_retries": 1}, cache_dir=cache)
    assert r.status == "ok" and not r.cached and fake_cp2k.calls(log) == 3
    (r,) = compute(ch4, {"max_retries": 3}, cache_dir=cache)
    assert r.status == "ok" and r.cached and fake_cp2k.calls(log) == 3  # a success is not rerun
    use("unconverged")
    h2o = [tagged(molecule("H2O"), "h2o")]
    (r,) = compute(h2o, {}, cache_dir=cache)
    assert r.status == "failed" and r.settings["ladder"] == handlers.LADDER_VERSION and fake_cp2k.calls(log) == 7
    assert compute(h2o, {"max_retries": 2}, cache_dir=cache)[0].cached  # fewer retries would fail the same way
    monkeypatch.setattr(handlers, "LADDER_VERSION", "another-ladder")
    (r,) = compute(h2o, {}, cache_dir=cache)
    assert not r.cached and r.settings["ladder"] == "another-ladder" and fake_cp2k.calls(log) == 11
    assert compute(h2o, {}, cache_dir=cache)[0].cached and compute(ch4, {}, cache_dir=cache)[0].cached
    assert fake_cp2k.calls(log) == 11


def test_version_and_compiled_data_dir_from_cp2k_version_output():
    from vimpnn.dft.binary import parse_version

    text = (" CP2K version 2023.1\n Source code revision git:b888bd8\n cp2kflags: omp libint fftw3\n"
            " compiler options:\n   -cpp -D __COMPILE_REVISION=\"git:b888bd8\" -D __DATA_DIR=\"/opt/cp2k-2023.1/sha\n"
            "   re/data\" -D __SHORT_FILE__=\"start/cp2k.F\" -O2\n")
    build = parse_version(text, "cp2k.psmp")
    assert build.version == "CP2K version 2023.1 (git:b888bd8)" and build.data_dir == "/opt/cp2k-2023.1/share/data"
    with pytest.raises(DFTSetupError, match="no 'CP2K version' line"):
        parse_version("usage: something else\n", "cp2k.psmp")


def test_ladder_version_follows_code_not_comments():
    source = Path(handlers.__file__).read_text()
    assert handlers.ladder_version(source) == handlers.LADDER_VERSION
    reworded = source.replace("double MAX_SCF", "multiply MAX_SCF by two").replace("# K -> Hartree", "")
    assert reworded != source and handlers.ladder_version(reworded) == handlers.LADDER_VERSION
    assert handlers.ladder_version(source.replace('"alpha": 0.1', '"alpha": 0.05')) != handlers.LADDER_VERSION


class LogLines(logging.Handler):
    """Keeps the messages of the records it handles."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.mark.parametrize("damage", ["empty object", "truncated", "no energy"])
def test_invalid_cache_entry_is_reported_in_one_line_and_recomputed(damage, fake, tmp_path, caplog):
    use, log = fake
    use("ok")
    ch4, cache = [tagged(molecule("CH4"), "ch4")], tmp_path / "c"
    (good,) = compute(ch4, {}, cache_dir=cache)
    (path,) = cache.glob("*/*.json")
    text = path.read_text()
    record = json.loads(text)
    record.pop("energy")
    damaged = {"empty object": "{}", "truncated": text[: len(text) // 2], "no energy": json.dumps(record)}
    path.write_text(damaged[damage])
    caplog.set_level(logging.INFO, logger="vimpnn")
    handler = LogLines()
    logging.getLogger("vimpnn").addHandler(handler)  # every vimpnn line once, whatever handlers the CLI set up
    try:
        (again,) = compute(ch4, {}, cache_dir=cache)
    finally:
        logging.getLogger("vimpnn").removeHandler(handler)
    lines = handler.lines
    assert again.status == "ok" and not again.cached and again.energy == good.energy and fake_cp2k.calls(log) == 2
    assert len(lines) == 1 and str(path) in lines[0] and "invalid cache entry" in lines[0]
    assert compute(ch4, {}, cache_dir=cache)[0].cached  # rewritten whole


def _compute_in_child(structures: list, settings: dict, cache: Path, queue) -> None:
    queue.put([r.to_dict() | {"cached": r.cached} for r in compute(structures, settings, cache_dir=cache)])


def _two_processes(structures: list, settings: dict, cache: Path) -> tuple[list[list[dict]], list[int]]:
    """`compute` in two processes started together on one cache (forked: no start-up time, so they overlap)."""
    templates.render(tagged(molecule("H2"), "h2"), resolve({}))  # CP2K's input schema, parsed before the fork
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_compute_in_child, args=(structures, settings, cache, queue)) for _ in range(2)]
    for p in procs:
        p.start()
    out = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    return out, [p.pid for p in procs]


def test_two_processes_on_one_cache_run_each_input_once(fake, tmp_path):
    use, log = fake
    use("ok", FAKE_CP2K_SLEEP="1.5")
    mols = [tagged(Atoms("H" * n, positions=[[0, 0, 0.8 * k] for k in range(n)]), f"h{n}") for n in (2, 3, 4, 5)]
    out, pids = _two_processes(mols, {}, tmp_path / "c")
    assert fake_cp2k.calls(log) == 4  # one CP2K run per input, not one per process
    for records in out:
        assert [r["status"] for r in records] == ["ok"] * 4
        assert all(a["status"] == "ok" for r in records for a in r["attempts"])  # no attempt aborted
        assert [r["energy"] for r in records] == pytest.approx([-0.5 * n * Hartree for n in (2, 3, 4, 5)])
    assert sum(not r["cached"] for records in out for r in records) == 4  # the rest came from the other's cache
    assert not any((tmp_path / "c").glob("*/*.lock"))


def test_scratch_is_per_process_and_removed_by_its_owner(fake, tmp_path):
    use, log = fake
    use("sleep")  # a wall-time failure is not cached: both processes run the same input, one after the other
    out, pids = _two_processes([tagged(molecule("H2"), "h2")], {"walltime_s": 1}, tmp_path / "c")
    for (r,) in out:  # each a wall-time failure of its one attempt: nothing removed its directory under it
        assert "wall-time" in r["reason"] and len(r["attempts"]) == 1
    cwds = [Path(line) for line in log.read_text().splitlines()]
    assert len(cwds) == 2 and cwds[0] != cwds[1]
    assert {int(c.parent.name.split("-")[1]) for c in cwds} == set(pids)  # scratch/<key>-<pid>-<random>/attempt-0
    assert not any((tmp_path / "c" / "scratch").iterdir())


# --- EMT backend and CLI -------------------------------------------------------------------------------------

def test_emt_matches_ase_and_is_labelled(tmp_path):
    structures = [tagged(molecule("CH4"), "m"), tagged(bulk("Cu", "fcc", a=3.6), "c"),
                  tagged(Atoms("Al2", positions=[[0, 0, 0], [2.6, 0, 0]]), "d")]
    results = compute(structures, {"backend": "emt"}, cache_dir=tmp_path / "c")
    for atoms, r in zip(structures, results):
        ref = atoms.copy()
        ref.calc = EMT()
        assert r.energy == pytest.approx(ref.get_potential_energy(), abs=1e-12)
        assert r.backend == "emt" and r.settings["functional"] == "EMT" and "EMT" in r.code_version
    assert all(r.cached for r in compute(structures, {"backend": "emt"}, cache_dir=tmp_path / "c"))


def test_cli_dft_and_refs_emt(tmp_path):
    from vimpnn.cli.main import main

    mols = [tagged(molecule("H2O"), "w0"), tagged(molecule("NH3"), "a0"), tagged(molecule("CH4"), "m0")]
    write_structures(tmp_path / "s.extxyz", mols)
    (tmp_path / "dft.yaml").write_text("dft:\n  backend: emt\n")
    args = ["dft", "--in", str(tmp_path / "s.extxyz"), "--out", str(tmp_path / "r.jsonl"), "--settings",
            str(tmp_path / "dft.yaml"), "--start", "1", "--stop", "3", "--cache", str(tmp_path / "c"), "--no-progress"]
    assert main(args) == 0
    records = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert [r["system_id"] for r in records] == ["a0", "m0"]
    assert set(records[0]) == {"system_id", "status", "energy", "reason", "backend", "input_hash", "scf_converged",
                               "scf_steps", "walltime_s", "code_version", "attempts", "settings", "forces"}
    assert main(["dft-refs", "--elements", "H,C,N,O", "--backend", "emt", "--cache", str(tmp_path / "c"),
                 "--out", str(tmp_path / "refs.json")]) == 0
    refs = json.loads((tmp_path / "refs.json").read_text())
    h = Atoms("H")
    h.calc = EMT()
    assert refs["unit"] == "eV" and refs["backend"] == "emt"
    assert refs["energies"]["H"] == pytest.approx(h.get_potential_energy())


def test_validate_dft_emt_recovers_emt_lattice_constant(tmp_path, capsys):
    from vimpnn.cli.main import main

    assert main(["validate-dft", "--element", "Cu", "--backend", "emt", "--cache", str(tmp_path / "c"),
                 "--plot", str(tmp_path / "cu.png"), "--json", str(tmp_path / "cu.json")]) == 0
    doc = json.loads((tmp_path / "cu.json").read_text())
    # ASE EMT's own Cu parameters: a0 = 3.59 Å, B = 134 GPa (Jacobsen et al., Surf. Sci. 366, 394 (1996)).
    assert doc["a0_A"] == pytest.approx(3.59, abs=0.01) and doc["B_GPa"] == pytest.approx(134, abs=3)
    assert (tmp_path / "cu.png").stat().st_size > 1000


def test_validate_dft_atomization_table(tmp_path, capsys):
    """D_e = sum(atoms) - molecule against PBE's Table I, per molecule, with the level printed (EMT: fast)."""
    from vimpnn.cli.main import main

    out = tmp_path / "a.json"
    assert main(["validate-dft", "--atomization", "--molecules", "CH4,H2O", "--backend", "emt",
                 "--cache", str(tmp_path / "c"), "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    rows = {r["molecule"]: r for r in doc["atomization"]}
    assert list(rows) == ["CH4", "H2O"] and rows["CH4"]["pbe_kcal_mol"] == 419.8
    ch4 = molecule("CH4")
    ch4.calc = EMT()
    atoms = {e: doc["atom_energies_eV"][e] for e in ("C", "H")}
    expected = (atoms["C"] + 4 * atoms["H"] - ch4.get_potential_energy()) / (kcal / mol)
    assert rows["CH4"]["De_kcal_mol"] == pytest.approx(expected)
    assert rows["CH4"]["diff_kcal_mol"] == pytest.approx(expected - 419.8)
    printed = capsys.readouterr().out
    assert "CH4" in printed and "419.8" in printed and "free atoms UKS" in printed
    assert main(["validate-dft", "--atomization", "--molecules", "C6H6", "--backend", "emt"]) == 2
    assert "choose from CH4, NH3, H2O, C2H2" in capsys.readouterr().err


def test_reference_atoms_use_ot_and_the_metal_basis(fake, tmp_path):
    from vimpnn.dft import reference_energies

    use, log = fake
    use("ok")
    refs = reference_energies(["Cu", "H"], {}, cache_dir=tmp_path / "c")
    assert list(refs) == ["Cu", "H"] and all(r.status == "ok" for r in refs.values())
    assert {r.settings["template"] for r in refs.values()} == {"molecule"}
    assert refs["Cu"].settings["basis_set"] == "DZVP-MOLOPT-SR-GTH"
    assert refs["H"].settings["basis_set"] == for_template(resolve({}), "molecule")["basis_set"]
    assert refs["H"].energy == pytest.approx(-0.5 * Hartree)


CLUSTER_LEVEL = {"templates": {"metal_cluster": {"cutoff": 250, "rel_cutoff": 40, "vacuum": 3.0, "eps_scf": 1.0e-5}}}


def _cell_side(cache: Path, result) -> float:
    """The cubic box side of the kept CP2K input (keep_scratch) that produced `result`."""
    (text,) = {t for t in (p.read_text() for p in (cache / "scratch").glob("*/attempt-0/vimpnn.inp"))
               if templates.sha256(t) == result.input_hash}
    return float(text.split("&CELL")[1].split()[1])


def test_reference_atoms_take_the_level_of_their_dataset(fake, tmp_path):
    """dft-refs --structures: a cluster dataset's atoms at the clusters' cutoff/vacuum/basis, molecules' at theirs."""
    from vimpnn.cli.main import main

    use, _ = fake
    use("ok")
    (tmp_path / "dft.yaml").write_text(yaml.safe_dump({"dft": {**CLUSTER_LEVEL, "keep_scratch": True}}))
    clusters = [tagged(Atoms("Cu3", positions=[[0, 0, 0], [2.5, 0, 0], [0, 2.5, 0]]), "cu3"),
                tagged(Atoms("Al2", positions=[[0, 0, 0], [2.8, 0, 0]]), "al2")]
    write_structures(tmp_path / "clusters.extxyz", clusters)
    write_structures(tmp_path / "molecules.extxyz", [tagged(molecule("H2O"), "w")])
    cache = tmp_path / "c"
    common = ["--settings", str(tmp_path / "dft.yaml"), "--cache", str(cache)]
    assert main(["dft-refs", "--structures", str(tmp_path / "clusters.extxyz"), *common,
                 "--out", str(tmp_path / "cluster-refs.json")]) == 0
    assert main(["dft-refs", "--structures", str(tmp_path / "molecules.extxyz"), *common,
                 "--out", str(tmp_path / "molecule-refs.json")]) == 0
    cluster_refs = json.loads((tmp_path / "cluster-refs.json").read_text())
    molecule_refs = json.loads((tmp_path / "molecule-refs.json").read_text())
    assert cluster_refs["level"] == "metal_cluster" and molecule_refs["level"] == "molecule"
    for e in ("Al", "Cu"):  # the clusters' level; Al runs at its element_cutoff there, as the Al clusters
        s = cluster_refs["results"][e]["settings"]
        assert (s["cutoff"], s["element_cutoff"], s["rel_cutoff"], s["vacuum"]) == (250, {"Al": 200}, 40, 3.0)
        assert s["eps_scf"] == pytest.approx(1.0e-4)  # free atoms: 10x the level's (docs/dft.md)
        assert s["basis_set"] == "DZVP-MOLOPT-SR-GTH" and s["template"] == "molecule"  # OT: integer occupations
    for e in ("H", "O"):
        s = molecule_refs["results"][e]["settings"]
        assert (s["cutoff"], s["vacuum"]) == (400, 4.0)
        assert s["basis_set"] == for_template(resolve({}), "molecule")["basis_set"]
    from vimpnn.dft.result import DFTResult

    cu = DFTResult.from_dict(cluster_refs["results"]["Cu"])
    h = DFTResult.from_dict(molecule_refs["results"]["H"])
    assert _cell_side(cache, cu) == 6.0 and _cell_side(cache, h) == 8.0  # 2 x vacuum around a point


def test_reference_level_needs_one_template_per_file(tmp_path, capsys):
    from vimpnn.cli.main import main

    mixed = [tagged(molecule("H2O"), "w"), tagged(Atoms("Cu2", positions=[[0, 0, 0], [2.3, 0, 0]]), "cu2")]
    write_structures(tmp_path / "mixed.extxyz", mixed)
    assert main(["dft-refs", "--structures", str(tmp_path / "mixed.extxyz"), "--backend", "emt",
                 "--out", str(tmp_path / "r.json")]) == 2
    assert "mixed.extxyz: structures of templates metal_cluster, molecule" in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()


def test_workflow_box_follows_each_datasets_scaling_range(fake, tmp_path):
    """growth_stable (s = 1.0 only) gets a box for s = 1.0, growth_unstable one for its largest scaling."""

    from tests.workflow_helpers import run_snakemake, workflow_copy
    from vimpnn.structures.datasets import build

    config = {"seed": 0, "datasets": ["growth_stable", "growth_unstable"],
              "growth": {"elements": ["Al"], "min_size": 15, "max_size": 15, "stable": {"n_seeds": 1},
                         "unstable": {"n_seeds": 1, "scalings": {"min": 0.9, "max": 1.3, "n": 2}}},
              "dft": {"backend": "cp2k", "cache_dir": "results/dft/cache", "vacuum": 3.0, "box": "dataset"}}
    wd = workflow_copy(tmp_path / "wf", config)
    targets = [f"results/config/dft-{d}.yaml" for d in config["datasets"]]
    res = run_snakemake(wd, "--cores", "1", "--configfile=config/test.yaml", *targets)
    assert res.returncode == 0, res.stderr[-3000:]
    use, _ = fake
    use("ok")
    sides = {}
    for name in config["datasets"]:
        settings = yaml.safe_load((wd / f"results/config/dft-{name}.yaml").read_text())
        cluster = build(name, config)[-1]  # growth_unstable: its largest scaling, s = 1.3
        (r,) = compute([cluster], {**settings, "keep_scratch": True}, cache_dir=tmp_path / "c")
        extent = np.ptp(cluster.get_positions(), axis=0).max() / cluster.info["scale"]
        sides[name] = (settings["max_scale"], _cell_side(tmp_path / "c", r), extent)
    assert sides["growth_stable"][0] == 1.0 and sides["growth_unstable"][0] == pytest.approx(1.3)
    for max_scale, side, extent in sides.values():
        assert side == math.ceil(2 * (max_scale * extent + 6.0)) / 2


# --- wavefunction restart along a curve ---------------------------------------------------------------------------

def _curve(scales, name="CH4", tag="ch4"):
    out = []
    for s in scales:
        atoms = molecule(name)
        atoms.positions *= s
        out.append(tagged(atoms, f"{tag}-{s}", scale=s))
    return out


def test_each_scaling_starts_from_its_neighbours_wavefunction(fake, tmp_path):
    use, log = fake
    use("ok")
    structures = _curve([1.2, 0.9, 1.0]) + [tagged(molecule("H2O"), "h2o")] + _curve([1.1])
    results = compute(structures, {"jobs": 2}, cache_dir=tmp_path / "c")
    assert [r.system_id for r in results] == [a.info["system_id"] for a in structures]  # input order kept
    guess = {r.system_id: r.attempts[0]["guess"] for r in results}
    # one chain per curve in order of scaling; a structure alone on its curve (H2O) starts from atoms
    assert guess == {"ch4-0.9": "atomic", "ch4-1.0": "restart:ch4-0.9", "ch4-1.1": "restart:ch4-1.0",
                     "ch4-1.2": "restart:ch4-1.1", "h2o": "atomic"}
    assert all(r.status == "ok" for r in results) and fake_cp2k.calls(log) == 5
    assert not list((tmp_path / "c" / "scratch").glob("wavefunctions-*"))  # the chain's files go with it
    # the restart is not part of the input: the same structures without it are the same cache entries
    again = compute(structures, {"wfn_restart": False}, cache_dir=tmp_path / "c")
    assert all(r.cached for r in again) and fake_cp2k.calls(log) == 5
    plain = compute(structures, {"wfn_restart": False}, cache_dir=tmp_path / "fresh")
    assert {r.attempts[0]["guess"] for r in plain} == {"atomic"}
    assert [r.energy for r in plain] == [r.energy for r in results]


def test_a_rescued_structure_passes_no_wavefunction_on(fake, tmp_path):
    use, log = fake
    use("retry_ok")  # every first attempt fails; the ladder's more_scf_steps converges
    results = compute(_curve([0.9, 1.0, 1.1]), {"max_scf": 60}, cache_dir=tmp_path / "c")
    assert all(r.status == "ok" for r in results) and fake_cp2k.calls(log) == 6
    assert [[a["guess"] for a in r.attempts] for r in results] == [["atomic", "atomic"]] * 3


def test_curves_need_the_same_shape_and_symbols():
    from vimpnn.dft.runner import curve_key

    s = resolve({})
    ch4, stretched = _curve([0.9, 1.3])
    key = curve_key(ch4, templates.render(ch4, s))
    assert key == curve_key(stretched, templates.render(stretched, s))
    bent = stretched.copy()
    bent.positions[1] += 0.05
    assert curve_key(bent, templates.render(bent, s)) != key
    assert curve_key(ch4, templates.render(ch4, resolve({"cutoff": 300}))) != key


def test_inputs_that_diagonalise_run_from_the_atomic_guess(fake, tmp_path):
    """Clusters and bulk cells mix densities (Broyden): a neighbour's wavefunction saved no step on Al15."""
    use, log = fake
    use("ok")
    cluster = []
    for s in (0.9, 1.0):
        atoms = Atoms("Al4", positions=[[0, 0, 0], [2.8, 0, 0], [0, 2.8, 0], [0, 0, 2.8]])
        atoms.positions *= s
        cluster.append(tagged(atoms, f"al4-{s}", scale=s))
    results = compute(cluster, {}, cache_dir=tmp_path / "c")
    assert [r.settings["template"] for r in results] == ["metal_cluster"] * 2
    assert [r.attempts[0]["guess"] for r in results] == ["atomic", "atomic"]
