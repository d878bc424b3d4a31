"""The fast level: GFN-xTB through tblite (against tblite's own ASE calculator), the `fast` router, pinned
worker processes, forces against finite differences of the energy, and SCF failures as failed records."""

from __future__ import annotations

import ctypes
import os

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, molecule

from vimpnn.dft import compute, reference_energies
from vimpnn.dft.settings import resolve
from vimpnn.dft.xtb import XTBBackend
from vimpnn.errors import DFTSetupError
from vimpnn.structures.datasets import build
from vimpnn.workers import pinned_pool

pytest.importorskip("tblite")


def tagged(atoms, sid, scale=1.0):
    atoms.info.update(system_id=sid, scale=scale)
    return atoms


def qm9(n_molecules: int, n_scalings: int) -> list:
    return build("augqm9", {"qm9": {"n_molecules": n_molecules}, "augqm9": {"scalings": {"n": n_scalings}}})


@pytest.fixture(scope="module")
def molecules():
    """QM9 molecules at two scalings, an odd-electron radical and a fluorine compound."""
    extra = [tagged(molecule("CH3"), "ch3"), tagged(molecule("CF4"), "cf4")]
    return [a for a in qm9(6, 2) if a.info["group"] in (1, 4, 6)] + extra


@pytest.mark.parametrize("method", ["GFN2-xTB", "GFN1-xTB"])
def test_xtb_energies_and_forces_equal_tblites_ase_calculator(molecules, method, tmp_path):
    from tblite.ase import TBLite

    results = compute(molecules, {"backend": "xtb", "xtb_method": method, "jobs": 2}, cache_dir=tmp_path)
    for atoms, r in zip(molecules, results):
        ref = atoms.copy()
        ref.calc = TBLite(method=method, verbosity=0)
        assert r.status == "ok" and r.backend == "xtb" and r.scf_converged and r.scf_steps >= 3
        assert r.code_version.startswith("tblite 0.") and r.code_version.endswith(method)
        assert r.settings["method"] == method
        assert r.energy == pytest.approx(ref.get_potential_energy(), abs=1e-8)
        assert np.allclose(r.forces, ref.get_forces(), atol=1e-8)


def test_forces_are_minus_the_energy_gradient(tmp_path):
    """Central finite differences (h = 1e-4 Å) of stored energies against stored forces: xTB and EMT."""
    h = 1e-4
    systems = [(tagged(molecule("CH3CH2OH"), "etoh"), 2, "xtb"),
               (tagged(Atoms("Cu4", positions=[[0, 0, 0], [2.5, 0, 0], [0, 2.6, 0], [0.3, 0.2, 2.4]]), "cu4"), 3, "emt")]
    for atoms, k, backend in systems:
        displaced = []
        for axis in range(3):
            for sign in (1, -1):
                d = atoms.copy()
                d.positions[k, axis] += sign * h
                displaced.append(tagged(d, f"{atoms.info['system_id']}-{axis}{sign}"))
        results = compute([atoms, *displaced], {"backend": "fast"}, cache_dir=tmp_path)
        assert {r.backend for r in results} == {backend}
        e = np.array([r.energy for r in results[1:]]).reshape(3, 2)
        numeric = -(e[:, 0] - e[:, 1]) / (2 * h)
        assert np.allclose(results[0].forces[k], numeric, atol=2e-4), (backend, results[0].forces[k], numeric)
        assert np.linalg.norm(numeric) > 0.05  # a real test: the atom is not at a stationary point


def test_unconverged_scf_is_a_failed_record_and_is_cached(tmp_path):
    atoms = [tagged(molecule("C6H6"), "benzene")]
    settings = {"backend": "xtb", "xtb_max_iterations": 1}
    (r,) = compute(atoms, settings, cache_dir=tmp_path)
    assert r.status == "failed" and r.energy is None and r.forces is None and r.scf_converged is False
    assert "SCF not converged in 1 cycles" in r.reason and r.attempts[0]["status"] == "failed"
    (again,) = compute(atoms, settings, cache_dir=tmp_path)
    assert again.cached and again.status == "failed" and again.reason == r.reason
    (ok,) = compute(atoms, {"backend": "xtb"}, cache_dir=tmp_path)  # another max_iterations: another hash
    assert ok.status == "ok" and not ok.cached and ok.input_hash != r.input_hash


def test_input_hash_covers_method_version_and_geometry(monkeypatch):
    water = tagged(molecule("H2O"), "w")
    gfn2 = XTBBackend(resolve({"backend": "xtb"}))
    base = gfn2.prepare(water).input_hash
    assert gfn2.prepare(water.copy()).input_hash == base
    moved = water.copy()
    moved.positions[0, 0] += 1e-6
    assert gfn2.prepare(moved).input_hash != base
    assert XTBBackend(resolve({"backend": "xtb", "xtb_method": "GFN1-xTB"})).prepare(water).input_hash != base
    monkeypatch.setattr("vimpnn.dft.xtb.tblite_version", lambda: "0.0.1")
    assert XTBBackend(resolve({"backend": "xtb"})).prepare(water).input_hash != base
    with pytest.raises(DFTSetupError, match="dft.xtb_method: 'GFN3-xTB' is not one of"):
        XTBBackend(resolve({"backend": "xtb", "xtb_method": "GFN3-xTB"}))


def test_fast_backend_routes_molecules_to_xtb_and_metals_to_emt(tmp_path):
    structures = [tagged(molecule("NH3"), "nh3"), tagged(bulk("Al", "fcc", a=4.05), "al"),
                  tagged(Atoms("Cu3", positions=[[0, 0, 0], [2.5, 0, 0], [0, 2.5, 0]]), "cu3")]
    assert [r.backend for r in compute(structures, {"backend": "fast"}, cache_dir=tmp_path)] == ["xtb", "emt", "emt"]
    refs = reference_energies(["H", "N", "Al", "Cu"], {"backend": "fast"}, cache_dir=tmp_path)
    assert {e: r.backend for e, r in refs.items()} == {"H": "xtb", "N": "xtb", "Al": "emt", "Cu": "emt"}
    assert all(r.status == "ok" for r in refs.values())


def _omp_max_threads() -> int:
    """OpenMP's thread count as seen by the libgomp that tblite loaded in this process."""
    import tblite.interface  # noqa: F401  (loads libgomp)

    with open("/proc/self/maps") as fh:
        path = next(line.split()[-1] for line in fh if "libgomp" in line)
    return ctypes.CDLL(path).omp_get_max_threads()


def test_workers_run_one_openmp_thread_whatever_the_parent_asks(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "8")
    with pinned_pool(2) as pool:
        assert [f.result() for f in [pool.submit(_omp_max_threads) for _ in range(2)]] == [1, 1]


def test_pinning_keeps_xtb_fast_with_openmps_default_of_one_thread_per_core(monkeypatch, tmp_path):
    """Unpinned, each of 2 workers starts one spin-waiting OpenMP thread per core: these 40 molecules took 40 s on
    2 cores (2026-11-25, `benchmarks/fast_level.py --unpinned`); pinned well under a second."""
    for name in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT"):
        monkeypatch.delenv(name, raising=False)
    results = compute(qm9(10, 4), {"backend": "xtb", "jobs": 2}, cache_dir=tmp_path)
    assert all(r.status == "ok" for r in results)
    assert sum(r.walltime_s for r in results) < 4.0


def test_xtb_rejects_elements_beyond_radon():
    with pytest.raises(DFTSetupError, match="element U is beyond GFN2-xTB"):
        XTBBackend(resolve({"backend": "xtb"})).prepare(tagged(Atoms("U"), "u"))



def test_a_killed_worker_is_a_failed_uncached_record_and_the_next_structure_runs(tmp_path):
    import signal

    backend = XTBBackend(resolve({"backend": "xtb"}))
    job = backend.prepare(tagged(molecule("H2O"), "w"))
    backend._pool = pinned_pool(1)
    backend._pool.submit(int).result()  # start the worker
    for pid in list(backend._pool._processes):
        os.kill(pid, signal.SIGKILL)
    dead = backend.run(job, tmp_path)
    assert dead["status"] == "failed" and "worker process died" in dead["reason"] and not dead["_cacheable"]
    again = backend.run(job, tmp_path)
    backend.close()
    assert again["status"] == "ok" and again["_cacheable"]


def test_water_matches_tblites_published_energies(tmp_path):
    """tblite's documentation (tblite.ase) gives ASE's H2O at -137.967776 eV (GFN2-xTB), -156.967506 eV (GFN1-xTB)."""
    water = [tagged(molecule("H2O"), "w")]
    for method, published in (("GFN2-xTB", -137.967776), ("GFN1-xTB", -156.967506)):
        (r,) = compute(water, {"backend": "xtb", "xtb_method": method}, cache_dir=tmp_path)
        assert r.energy == pytest.approx(published, abs=1e-5)
