import json

import h5py
import numpy as np
import pytest

from tests.conftest import ROOT
from vimpnn.cli.main import main
from vimpnn.config import load_config
from vimpnn.data.hdf5 import read_dataset, write_dataset
from vimpnn.data.pack import pack, read_results
from vimpnn.data.rewrite import main as rewrite_main
from vimpnn.data.splits import split_by_group, split_lattice_scan
from vimpnn.errors import DataFileError, InputFormatError
from vimpnn.structures.datasets import build

CONFIG = {"seed": 0, "qm9": {"source": "shipped", "n_molecules": 10},
          "augqm9": {"scalings": {"min": 0.9, "max": 1.5, "n": 4}, "split": {"train": 0.8, "val": 0.1, "test": 0.1}},
          "infcrystal": {"elements": ["Al", "Cu"], "scalings": {"min": 0.9, "max": 1.5, "n": 21}, "n_train_per_element": 8}}


def _fake_results(structures, fail=()):
    """Energies with a known value per system so the round trip can be checked number for number."""
    out = []
    for k, a in enumerate(structures):
        sid = a.info["system_id"]
        if sid in fail:
            out.append({"system_id": sid, "status": "failed", "energy": None, "reason": "SCF not converged", "backend": "emt"})
        else:
            out.append({"system_id": sid, "status": "ok", "energy": -10.0 * len(a) - 0.001 * k, "backend": "emt",
                        "settings": {"backend": "emt"}, "code_version": "ase-emt"})
    return out


def test_pack_roundtrip_with_failures_and_splits(tmp_path):
    structures = build("augqm9", CONFIG)
    failed = {structures[5].info["system_id"]}
    arrays = pack("augqm9", structures, _fake_results(structures, failed), CONFIG, {"H": -13.6})
    write_dataset(tmp_path / "a.h5", arrays)
    back = read_dataset(tmp_path / "a.h5")
    assert len(back) == 39 and back.failed == [{"system_id": structures[5].info["system_id"], "reason": "SCF not converged"}]
    assert structures[5].info["system_id"] not in set(back.system_id)
    np.testing.assert_array_equal(back.energy, arrays.energy)
    np.testing.assert_array_equal(back.positions, arrays.positions)
    # split by molecule: 10 molecules -> 8/1/1, and all scalings of one molecule in one split
    groups = {k: set(back.group[v].tolist()) for k, v in back.splits.items()}
    assert [len(groups[k]) for k in ("train", "val", "test")] == [8, 1, 1]
    assert not (groups["train"] & groups["val"]) and not (groups["train"] & groups["test"])
    assert sorted(np.concatenate(list(back.splits.values())).tolist()) == list(range(39))
    assert back.attrs["units"]["energy"] == "eV" and back.attrs["reference_energies"] == {"H": -13.6}
    assert back.attrs["config"]["seed"] == 0 and back.attrs["dft_backend"] == "emt"
    # ASE view: atoms 7 is the 8th structure that did not fail
    at = back.atoms(7)
    ok = [a for a in structures if a.info["system_id"] not in failed]
    np.testing.assert_allclose(at.positions, ok[7].positions)
    assert at.get_potential_energy() == pytest.approx(back.energy[7])


def test_bonds_are_those_of_the_reference_geometry():
    structures = build("augqm9", {**CONFIG, "qm9": {"source": "shipped", "n_molecules": 1}})  # CH4 x 4 scalings
    arrays = pack("augqm9", structures, _fake_results(structures), CONFIG)
    # every scaling keeps CH4's 4 single C-H bonds, even at 1.5x where the atoms are far apart
    assert np.diff(arrays.bond_offsets).tolist() == [4, 4, 4, 4]
    assert set(arrays.bond_type.tolist()) == {1}


def test_infcrystal_split_is_8_evenly_spread_training_points_per_element():
    structures = build("infcrystal", CONFIG)
    arrays = pack("infcrystal", structures, _fake_results(structures), CONFIG)
    train = arrays.splits["train"]
    assert len(train) == 16
    al = train[arrays.group[train] == 0]
    np.testing.assert_allclose(arrays.scale[al], np.linspace(0.9, 1.5, 21)[[0, 3, 6, 9, 11, 14, 17, 20]])
    assert (len(arrays.splits["val"]), len(arrays.splits["test"])) == (14, 12)  # 13 left per curve: 7 val, 6 test


def test_split_helpers_are_seeded_and_exhaustive():
    group = np.repeat(np.arange(50), 3)
    a, b = split_by_group(group, {"train": 0.6, "val": 0.2, "test": 0.2}, 1), split_by_group(group, {"train": 0.6, "val": 0.2, "test": 0.2}, 1)
    assert all(np.array_equal(a[k], b[k]) for k in a) and [len(a[k]) for k in ("train", "val", "test")] == [90, 30, 30]
    # tiny datasets still get a validation and a test group
    tiny = split_by_group(np.arange(3), {"train": 0.8, "val": 0.1, "test": 0.1}, 0)
    assert [len(tiny[k]) for k in ("train", "val", "test")] == [1, 1, 1]
    with pytest.raises(InputFormatError, match="n_train_per_element"):
        split_lattice_scan(np.zeros(5, int), np.linspace(0.9, 1.5, 5), 8)


def test_all_failed_and_missing_results_are_clear_errors():
    structures = build("infcrystal", {**CONFIG, "infcrystal": {"scalings": {"n": 3}}})
    with pytest.raises(DataFileError, match="all 6 DFT calculations failed"):
        pack("infcrystal", structures, _fake_results(structures, {a.info["system_id"] for a in structures}), CONFIG)
    with pytest.raises(InputFormatError, match="have no DFT result"):
        pack("infcrystal", structures, _fake_results(structures[:-1]), CONFIG)
    mixed = _fake_results(structures)
    mixed[0]["backend"] = "cp2k"
    with pytest.raises(InputFormatError, match=r"different levels of theory \(field .backend."):
        pack("infcrystal", structures, mixed, CONFIG)


def test_corrupt_and_truncated_files_give_clear_errors(tmp_path, capsys):
    cfg = {**CONFIG, "infcrystal": {"scalings": {"n": 12}, "n_train_per_element": 4}}
    structures = build("infcrystal", cfg)
    good = tmp_path / "good.h5"
    write_dataset(good, pack("infcrystal", structures, _fake_results(structures), cfg))
    data = good.read_bytes()
    (tmp_path / "cut.h5").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFileError, match=r"cut\.h5: corrupt or truncated"):
        read_dataset(tmp_path / "cut.h5")
    (tmp_path / "text.h5").write_text("not hdf5")
    assert main(["info", str(tmp_path / "text.h5")]) == 2
    assert "text.h5 is not an HDF5 dataset file; convert" in capsys.readouterr().err
    with h5py.File(tmp_path / "nobonds.h5", "w") as f:
        f["atoms/numbers"] = np.array([1], np.int16)
    with pytest.raises(DataFileError, match="missing dataset /atoms/positions"):
        read_dataset(tmp_path / "nobonds.h5")
    # a hand-edited offsets array is caught before training sees it
    (tmp_path / "edit.h5").write_bytes(data)
    with h5py.File(tmp_path / "edit.h5", "r+") as f:
        f["systems/offsets"][-1] = 999
    with pytest.raises(DataFileError, match="systems/offsets is inconsistent"):
        read_dataset(tmp_path / "edit.h5")
    assert main(["info", str(good)]) == 0
    out = capsys.readouterr().out
    assert "systems       24" in out and "splits        train 8, val 8, test 8" in out


def test_pack_cli_and_results_errors(tmp_path, capsys):
    cfg = load_config(ROOT / "config/demo.yaml")
    assert main(["structures", "--dataset", "infcrystal", "--config", str(ROOT / "config/demo.yaml"), "--out", str(tmp_path / "s.extxyz")]) == 0
    from vimpnn.structures.io import read_structures

    structures = read_structures(tmp_path / "s.extxyz")
    (tmp_path / "r.jsonl").write_text("\n".join(json.dumps(r) for r in _fake_results(structures)) + "\n")
    (tmp_path / "refs.json").write_text('{"Al": -1.0, "Cu": -2.0}')
    args = ["pack", "--dataset", "infcrystal", "--structures", str(tmp_path / "s.extxyz"), "--results", str(tmp_path / "r.jsonl"),
            "--config", str(ROOT / "config/demo.yaml"), "--refs", str(tmp_path / "refs.json"), "--out", str(tmp_path / "d.h5")]
    assert main(args) == 0
    assert f"packed {len(structures)} infcrystal systems" in capsys.readouterr().out
    assert read_dataset(tmp_path / "d.h5").attrs["config"] == cfg
    (tmp_path / "bad.jsonl").write_text('{"system_id": "x", "status": "ok"}\nnot json\n')
    with pytest.raises(InputFormatError, match=r"bad\.jsonl: line 2: not JSON"):
        read_results([tmp_path / "bad.jsonl"])


def test_scaled_copies_share_one_bond_perception():
    from unittest import mock

    import vimpnn.data.pack as pack_module

    structures = build("augqm9", {**CONFIG, "qm9": {"source": "shipped", "n_molecules": 3}})  # 3 molecules x 4
    with mock.patch.object(pack_module, "perceive_bonds", wraps=pack_module.perceive_bonds) as perceive:
        pack("augqm9", structures, _fake_results(structures), CONFIG)
    assert perceive.call_count == 3


GROWTH = {"seed": 0, "growth": {"elements": ["Al", "Cu"], "min_size": 15, "max_size": 17,
                                "unstable": {"n_seeds": 4, "scalings": {"min": 0.9, "max": 1.5, "n": 3}},
                                "stable": {"n_seeds": 4}}}


@pytest.mark.parametrize("dataset", ["growth_unstable", "growth_stable"])
def test_growth_is_split_by_lineage_per_element(dataset):
    """All sizes and scalings of one growth in one split (sizes n and n+1 differ by one atom); every element
    has lineages in train, val and test."""
    structures = build(dataset, GROWTH)
    arrays = pack(dataset, structures, _fake_results(structures), GROWTH)
    lineage = np.array([a.info["lineage"] for a in structures])
    element = np.array([a.info["element"] for a in structures])
    seen = {}
    for name, idx in arrays.splits.items():
        for g in np.unique(lineage[idx]):
            assert seen.setdefault(int(g), name) == name, f"lineage {g} in {seen[int(g)]} and {name}"
        assert set(element[idx]) == {"Al", "Cu"}, name
    assert sorted(np.concatenate(list(arrays.splits.values())).tolist()) == list(range(len(structures)))
    if dataset == "growth_unstable":  # lineage is coarser than the DSC curve (group: one configuration)
        assert len(np.unique(arrays.group)) == 8 * 3 and len(np.unique(lineage)) == 8


def test_growth_structures_without_lineage_are_refused():
    structures = build("growth_unstable", GROWTH)
    for a in structures:
        del a.info["lineage"]
    with pytest.raises(InputFormatError, match="lineage"):
        pack("growth_unstable", structures, _fake_results(structures), GROWTH)


def test_docs_hdf5_example_runs_and_prints_what_the_doc_shows():
    """docs/hdf5.md's plain-h5py example is run as written, and its printed output matches the doc."""
    import re
    import subprocess
    import sys

    from tests.conftest import ROOT

    doc = (ROOT / "docs" / "hdf5.md").read_text()
    code = re.search(r"```python\n(.*?)```", doc, re.S)[1]
    shown = re.search(r"Output:\n\n```\n(.*?)```", doc, re.S)[1]
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout == shown


def test_flipped_byte_in_the_energy_array_is_detected_on_read(tmp_path, capsys):
    """Issue 14.6: a flipped byte inside /systems/energy was read (and trained on) without a word."""
    cfg = {**CONFIG, "infcrystal": {"scalings": {"n": 12}, "n_train_per_element": 4}}
    structures = build("infcrystal", cfg)
    path = tmp_path / "flip.h5"
    write_dataset(path, pack("infcrystal", structures, _fake_results(structures), cfg))
    with h5py.File(path, "r") as f:
        dset = f["systems/energy"]
        offset = dset.id.get_offset() if dset.chunks is None else dset.id.get_chunk_info(0).byte_offset
        first = float(dset[0])
    data = bytearray(path.read_bytes())
    data[offset + 3] ^= 0x10  # a mantissa byte of the first energy: still a finite, plausible number
    path.write_bytes(bytes(data))
    flipped = np.frombuffer(bytes(data[offset:offset + 8]), "<f8")[0]  # what an unchecked reader would get
    assert flipped != first and np.isfinite(flipped)
    with pytest.raises(DataFileError, match=r"flip\.h5: /systems/energy: checksum"):
        read_dataset(path)
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    assert "flip.h5: /systems/energy: checksum" in err and len(err.strip().splitlines()) == 1


def test_energy_edited_with_h5py_fails_the_content_hash(tmp_path):
    """An in-place edit through h5py rewrites the fletcher32 checksums; the stored content_sha256 still catches it."""
    cfg = {**CONFIG, "infcrystal": {"scalings": {"n": 12}, "n_train_per_element": 4}}
    structures = build("infcrystal", cfg)
    path = tmp_path / "edit.h5"
    write_dataset(path, pack("infcrystal", structures, _fake_results(structures), cfg))
    with h5py.File(path, "r") as f:
        assert read_dataset(path).attrs["content_sha256"] == f.attrs["content_sha256"]
    with h5py.File(path, "r+") as f:
        f["systems/energy"][0] -= 1.0
    with pytest.raises(DataFileError, match=r"edit\.h5: content_sha256 .* does not match its data"):
        read_dataset(path)


def test_forces_are_packed_in_atom_order_compressed_and_read_back(tmp_path):
    structures = build("augqm9", {**CONFIG, "qm9": {"source": "shipped", "n_molecules": 3}})
    results = _fake_results(structures, fail={structures[2].info["system_id"]})
    for r, a in zip(results, structures):  # a distinct, known force on every atom
        if r["status"] == "ok":
            r["forces"] = (np.arange(3 * len(a)).reshape(-1, 3) * 0.01 + r["energy"]).tolist()
    arrays = pack("augqm9", structures, results, CONFIG)
    write_dataset(tmp_path / "f.h5", arrays)
    back = read_dataset(tmp_path / "f.h5")
    assert back.forces.shape == back.positions.shape and back.attrs["units"]["forces"] == "eV/Angstrom"
    ok = [(r, a) for r, a in zip(results, structures) if r["status"] == "ok"]
    for i in (0, 5, len(back) - 1):
        np.testing.assert_array_equal(back.forces[back.atom_slice(i)], ok[i][0]["forces"])
        np.testing.assert_array_equal(back.atoms(i).get_forces(), ok[i][0]["forces"])
    np.testing.assert_array_equal(back.subset(np.array([4, 1])).forces,
                                  np.concatenate([back.forces[back.atom_slice(4)], back.forces[back.atom_slice(1)]]))
    with h5py.File(tmp_path / "f.h5") as f:
        assert f["atoms/forces"].dtype == np.float64 and f["systems/energy"].dtype == np.float64
        assert f["atoms/positions"].compression == "gzip" and f["atoms/forces"].shuffle
    # one ok record without forces (a CP2K energy run): no forces dataset at all, rather than holes
    results[0]["forces"] = None
    assert pack("augqm9", structures, results, CONFIG).forces is None
    results[0]["forces"] = [[0.0, 0.0, 0.0]]
    with pytest.raises(InputFormatError, match=rf"{structures[0].info['system_id']}: field 'forces' has shape \(1, 3\)"):
        pack("augqm9", structures, results, CONFIG)


def test_forces_of_the_wrong_shape_in_a_file_are_a_clear_error(tmp_path):
    structures = build("augqm9", {**CONFIG, "qm9": {"source": "shipped", "n_molecules": 1}})
    arrays = pack("augqm9", structures, _fake_results(structures), CONFIG)
    arrays.forces = np.zeros((len(arrays.numbers) - 1, 3))
    write_dataset(tmp_path / "bad.h5", arrays)
    with pytest.raises(DataFileError, match=r"bad.h5: /atoms/forces must be finite with the shape of /atoms/positions"):
        read_dataset(tmp_path / "bad.h5")


def _without_integrity(src, dst):
    """A copy of `src` as files were written before checksums existed: no filters, no content_sha256."""
    with h5py.File(src, "r") as f, h5py.File(dst, "w") as g:
        for name in _datasets(f):
            g.create_dataset(name, data=f[name][()], dtype=f[name].dtype)
        for key in f.attrs:
            if key != "content_sha256":
                g.attrs.create(key, f.attrs[key], dtype=f.attrs.get_id(key).dtype)
        g.attrs["schema_version"] = 1


def _raw(path):
    """Every attribute (value and HDF5 type) and dataset (dtype, shape, bytes) of a file, as stored."""
    out = {}
    with h5py.File(path, "r") as f:
        for key in f.attrs:
            out[f"@{key}"] = (f.attrs.get_id(key).dtype, f.attrs[key])
        for name in _datasets(f):
            out[name] = (f[name].dtype, f[name].shape, f[name][()].tolist())
    return out


def _datasets(f):
    names = []
    f.visititems(lambda name, o: names.append(name) if isinstance(o, h5py.Dataset) else None)
    return names


def test_rewrite_adds_checksums_and_keeps_every_array_and_attribute(tmp_path, capsys):
    """Issue 15.6: the shipped files had no integrity data; rewriting one keeps it bit for bit and adds checks."""
    structures = build("augqm9", {**CONFIG, "qm9": {"source": "shipped", "n_molecules": 3}})
    write_dataset(tmp_path / "new.h5", pack("augqm9", structures, _fake_results(structures), CONFIG, {"H": -13.6}))
    _without_integrity(tmp_path / "new.h5", tmp_path / "old.h5")
    assert main(["info", str(tmp_path / "old.h5")]) == 0
    warned = capsys.readouterr().err.strip().splitlines()
    assert len(warned) == 1 and "old.h5: no checksums: written by vimpnn" in warned[0]
    assert "corruption cannot be detected" in warned[0]
    old = read_dataset(tmp_path / "old.h5")
    assert rewrite_main([str(tmp_path / "old.h5"), str(tmp_path / "re.h5")]) == 0
    before, after = _raw(tmp_path / "old.h5"), _raw(tmp_path / "re.h5")
    assert after.pop("@content_sha256")[1] == old.attrs["content_sha256"]
    assert repr(after) == repr(before) and after["@schema_version"][1] == 1
    capsys.readouterr()
    assert main(["info", str(tmp_path / "re.h5")]) == 0
    assert "checksums" not in capsys.readouterr().err


@pytest.mark.parametrize("path", sorted((ROOT / "datasets").glob("*/*.h5")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_shipped_files_carry_checksums(path):
    """A flipped byte in a shipped file's energies is an error, not a training target."""
    with h5py.File(path, "r") as f:
        assert "content_sha256" in f.attrs and f["systems/energy"].fletcher32
