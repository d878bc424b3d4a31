"""Export -> import round trips keep energies (float64, bit for bit), splits, groups, scalings and bonds; the
formats follow MACE's and schnetpack's conventions; bad input names the file, frame and key."""

import copy
from pathlib import Path

import ase.io
import numpy as np
import pytest

from tests.conftest import ROOT
from vimpnn.cli.main import main
from vimpnn.data.exchange import export_mace, import_frames, read_frames
from vimpnn.data.hdf5 import read_dataset, write_dataset
from vimpnn.errors import InputFormatError

RELEASE = ROOT / "datasets" / "release"


def _same(a, b):
    assert np.array_equal(a.energy, b.energy) and a.energy.dtype == b.energy.dtype == np.float64
    for name in ("numbers", "offsets", "scale", "group", "pbc", "bond_offsets", "bond_pairs", "bond_type"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    np.testing.assert_allclose(b.positions, a.positions, atol=1e-8)  # extxyz writes positions with 8 decimals
    np.testing.assert_allclose(b.cell, a.cell, atol=1e-12)
    assert {k: v.tolist() for k, v in a.splits.items()} == {k: v.tolist() for k, v in b.splits.items()}
    assert list(a.system_id) == list(b.system_id)
    assert b.attrs["reference_energies"]["energies"] == a.attrs["reference_energies"]["energies"]


@pytest.mark.parametrize("name", ["augqm9", "infcrystal"])
@pytest.mark.parametrize("fmt,suffix", [("extxyz", "x.extxyz"), ("ase-db", "x.db")])
def test_export_import_round_trip(tmp_path, name, fmt, suffix):
    src = RELEASE / f"{name}.h5"
    out = tmp_path / suffix
    assert main(["export", str(src), "--format", fmt, "--out", str(out)]) == 0
    assert main(["import", str(out), "--energy-key", "energy", "--out", str(tmp_path / "back.h5")]) == 0
    _same(read_dataset(src), read_dataset(tmp_path / "back.h5"))


def test_ase_db_keeps_system_ids_that_read_as_numbers(tmp_path):
    """ASE refuses a string key-value such as "12" (it reads as a number); the export keeps it in the row data."""
    from ase.build import molecule
    from ase.calculators.singlepoint import SinglePointCalculator

    frames = []
    for k, name in enumerate(["H2O", "CH4", "NH3"]):
        a = molecule(name)
        a.info.update(system_id=str(10 + k), group=k)
        a.calc = SinglePointCalculator(a, energy=-10.0 - k)
        frames.append(a)
    ase.io.write(tmp_path / "own.extxyz", frames)
    assert main(["import", str(tmp_path / "own.extxyz"), "--energy-key", "energy", "--out", str(tmp_path / "a.h5")]) == 0
    assert main(["export", str(tmp_path / "a.h5"), "--format", "ase-db", "--out", str(tmp_path / "a.db")]) == 0
    assert main(["import", str(tmp_path / "a.db"), "--energy-key", "energy", "--out", str(tmp_path / "b.h5")]) == 0
    assert list(read_dataset(tmp_path / "b.h5").system_id) == ["10", "11", "12"]


def test_bonds_perceived_on_the_reference_geometry_match_the_packed_ones():
    """Without bond tables and splits in the file, import perceives bonds on positions / scale and splits by
    group; perceived on the stretched frames as given (no scale), the s = 1.5 copies would lose their bonds."""
    src = read_dataset(RELEASE / "augqm9.h5")
    frames = [src.atoms(i) for i in range(len(src))]
    back = import_frames(frames, "x.extxyz", energy_key="energy", scale_key="scale")
    assert np.array_equal(back.bond_pairs, src.bond_pairs) and np.array_equal(back.bond_type, src.bond_type)
    for name in ("train", "val", "test"):  # by group: no molecule in two splits
        others = set().union(*(set(back.group[back.splits[o]]) for o in ("train", "val", "test") if o != name))
        assert not set(back.group[back.splits[name]]) & others
    for f in frames:
        del f.info["scale"]
    as_given = import_frames(frames, "x.extxyz", energy_key="energy")
    stretched = np.flatnonzero(src.scale == src.scale.max())
    assert np.diff(as_given.bond_offsets)[stretched].sum() < np.diff(src.bond_offsets)[stretched].sum()


def test_mace_files_follow_its_conventions(tmp_path):
    src = read_dataset(RELEASE / "augqm9.h5")
    paths = export_mace(src, tmp_path)
    assert [p.name for p in paths] == ["train.xyz", "valid.xyz", "test.xyz"]
    train = ase.io.read(paths[0], ":")
    iso = [a for a in train if a.info.get("config_type") == "IsolatedAtom"]
    assert {a.get_chemical_symbols()[0]: a.info["REF_energy"] for a in iso} == src.attrs["reference_energies"]["energies"]
    assert all(len(a) == 1 and a.calc is None for a in iso)
    systems = [a for a in train if a.info.get("config_type") != "IsolatedAtom"]
    assert [a.info["REF_energy"] for a in systems] == src.energy[src.splits["train"]].tolist()
    assert len(ase.io.read(paths[1], ":")) == len(src.splits["val"])


def refs_at_another_level(tmp_path: Path) -> Path:
    """The growth release with its isolated atoms' records at 400 Ry and its clusters at 250 Ry, as the release
    before 2026-12-06 had them."""
    a = read_dataset(RELEASE / "growth_unstable.h5")
    refs = copy.deepcopy(a.attrs["reference_energies"])
    for record in refs["results"].values():
        record["settings"]["cutoff"] = 400
    a.attrs["reference_energies"] = refs
    write_dataset(tmp_path / "other_level.h5", a)
    return tmp_path / "other_level.h5"


def test_mace_leaves_out_reference_energies_of_another_level(tmp_path, capsys):
    """Isolated atoms at 400 Ry beside clusters at 250 Ry are not usable as E0s; at the clusters' level they are."""
    assert main(["export", str(refs_at_another_level(tmp_path)), "--format", "mace", "--out", str(tmp_path)]) == 0
    assert "cutoff 400 vs 250" in capsys.readouterr().out
    assert not any(a.info.get("config_type") == "IsolatedAtom" for a in ase.io.read(tmp_path / "train.xyz", ":"))
    assert main(["export", str(RELEASE / "growth_unstable.h5"), "--format", "mace", "--out", str(tmp_path / "ok")]) == 0
    assert "vs" not in capsys.readouterr().out
    assert sum(a.info.get("config_type") == "IsolatedAtom" for a in ase.io.read(tmp_path / "ok" / "train.xyz", ":")) == 2


def test_ase_db_is_a_schnetpack_dataset(tmp_path):
    from ase.db import connect

    src = read_dataset(RELEASE / "infcrystal.h5")
    main(["export", str(RELEASE / "infcrystal.h5"), "--format", "ase-db", "--out", str(tmp_path / "d.db")])
    with connect(tmp_path / "d.db") as db:
        md = db.metadata
        rows = list(db.select())
    assert md["_distance_unit"] == "Ang" and md["_property_unit_dict"] == {"energy": "eV"}
    assert md["atomrefs"]["energy"][13] == src.attrs["reference_energies"]["energies"]["Al"]
    assert [float(r.data["energy"][0]) for r in rows] == src.energy.tolist() == [r.energy for r in rows]
    split = np.load(tmp_path / "d_split.npz")
    assert split["test_idx"].tolist() == src.splits["test"].tolist()
    assert [rows[i].split for i in split["val_idx"]] == ["val"] * len(src.splits["val"])


def test_own_file_with_string_groups_and_given_splits(tmp_path):
    from ase.build import molecule
    from ase.calculators.singlepoint import SinglePointCalculator

    frames = []
    for k, name in enumerate(["H2O", "H2O", "CH4", "CH4", "NH3"]):
        a = molecule(name)
        a.info.update(mol=name, part=["train", "train", "valid", "valid", "test"][k])
        a.calc = SinglePointCalculator(a, energy=-10.0 - k)
        frames.append(a)
    ase.io.write(tmp_path / "own.extxyz", frames)
    out = tmp_path / "own.h5"
    assert main(["import", str(tmp_path / "own.extxyz"), "--energy-key", "energy", "--group-key", "mol",
                 "--split-key", "part", "--out", str(out)]) == 0
    a = read_dataset(out)
    assert a.group.tolist() == [0, 0, 1, 1, 2] and a.splits["val"].tolist() == [2, 3]
    assert a.energy.tolist() == [-10.0, -11.0, -12.0, -13.0, -14.0] and np.bincount(a.bond_type).tolist() == [0, 15]


def test_bad_input_names_file_frame_and_key(tmp_path, capsys):
    from ase import Atoms

    ase.io.write(tmp_path / "bad.extxyz", [Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.7]], info={"E": 1.0}),
                                            Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.7]])])
    frames, _ = read_frames(tmp_path / "bad.extxyz")
    with pytest.raises(InputFormatError, match=r"bad.extxyz: frame 1: no energy under key 'E'"):
        import_frames(frames, str(tmp_path / "bad.extxyz"), energy_key="E")
    assert main(["train", "--data", str(tmp_path / "bad.extxyz"), "--out", str(tmp_path / "run")]) == 2
    assert "vimpnn import" in capsys.readouterr().err
