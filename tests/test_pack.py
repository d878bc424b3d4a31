"""`vimpnn pack` refuses inputs that do not belong together (one line naming the file, record and field) and stores
each structure's DFT provenance (docs/hdf5.md: /provenance, /systems/electronic_state_changed), which `vimpnn
info` summarises, `vimpnn export` carries and training uses to leave smearing-rung energies out."""

import json

import h5py
import numpy as np
import pytest
from ase.build import molecule

from tests.conftest import ROOT
from vimpnn.cli.main import main
from vimpnn.data.hdf5 import read_dataset, write_dataset
from vimpnn.data.pack import pack, read_results
from vimpnn.dft import handlers, templates
from vimpnn.dft.settings import resolve
from vimpnn.errors import DataFileError, InputFormatError
from vimpnn.structures.datasets import build
from vimpnn.structures.io import read_structures, write_structures
from vimpnn.training import TrainConfig, train
from vimpnn.training.trainer import select_splits

CONFIG = {"seed": 0, "qm9": {"source": "shipped", "n_molecules": 4},
          "augqm9": {"scalings": {"min": 0.9, "max": 1.5, "n": 3}, "split": {"train": 0.5, "val": 0.25, "test": 0.25}}}
SETTINGS = {"functional": "PBE", "basis_set": "DZVP-MOLOPT-SR-GTH", "potential": "GTH-PBE", "cutoff": 400,
            "rel_cutoff": 60, "template": "molecule", "template_hash": "ab" * 32}
SMEARING = "diagonalisation_smearing"


def record(atoms, k, steps=("initial",), settings=SETTINGS, **changes):
    """An ok CP2K record as `vimpnn dft` writes it (docs/architecture.md), with an extra key pack must ignore;
    `steps` is the retry ladder as tried, the last one giving the energy."""
    attempts = [{"step": s, "status": "failed", "reason": "SCF not converged", "returncode": 1, "walltime_s": 1.0}
                for s in steps[:-1]]
    attempts.append({"step": steps[-1], "status": "ok", "reason": None, "returncode": 0, "walltime_s": 2.0})
    rec = {"system_id": atoms.info["system_id"], "status": "ok", "energy": -10.0 * len(atoms) - 0.01 * k,
           "reason": None, "backend": "cp2k", "input_hash": f"{k:064x}", "scf_converged": True, "scf_steps": 10 + k,
           "walltime_s": 1.0 * len(steps) + 1.0, "code_version": "CP2K version 2023.1", "attempts": attempts,
           "settings": settings, "forces": None, "claimed_by": "node-1"}
    return rec | changes


@pytest.fixture(scope="module")
def structures():
    return build("augqm9", CONFIG)  # 4 molecules x 3 scalings


def write_inputs(tmp_path, frames, *record_lists):
    """structures file s.extxyz and results files r0.jsonl, r1.jsonl, ...; the pack command line for them."""
    write_structures(tmp_path / "s.extxyz", frames)
    paths = []
    for k, records in enumerate(record_lists):
        paths.append(tmp_path / f"r{k}.jsonl")
        paths[-1].write_text("".join(json.dumps(r) + "\n" for r in records))
    config = tmp_path / "config.yaml"
    config.write_text(json.dumps(CONFIG))
    return ["pack", "--dataset", "augqm9", "--structures", str(tmp_path / "s.extxyz"), "--results", *map(str, paths),
            "--config", str(config), "--out", str(tmp_path / "d.h5")]


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    return err


def test_conflicting_duplicate_result_is_an_error_naming_both_lines_and_the_field(structures, tmp_path, capsys):
    records = [record(a, k) for k, a in enumerate(structures)]
    stale = record(structures[2], 2, energy=999.0)
    args = write_inputs(tmp_path, structures, records, [stale])
    assert main(args) == 2
    err = one_error_line(capsys)
    sid = structures[2].info["system_id"]
    assert f"r0.jsonl: line 3 and {tmp_path / 'r1.jsonl'}: line 1: two results for {sid} differ in field 'energy'" in err
    assert "999.0" in err and not (tmp_path / "d.h5").exists()
    # the same result twice (a rerun: other timings, extra keys, cache-key recipe) is fine, and packed once
    again = record(structures[2], 2, walltime_s=99.0, claimed_by="node-2", input_hash="cd" * 32)
    assert main(write_inputs(tmp_path, structures, records, [again])) == 0
    assert len(read_dataset(tmp_path / "d.h5")) == len(structures)


def test_duplicate_system_ids_in_the_structures_are_an_error(structures, tmp_path, capsys):
    frames = [structures[0].copy() for _ in range(12)]
    assert main(write_inputs(tmp_path, frames, [record(frames[0], 0)])) == 2
    sid = frames[0].info["system_id"]
    assert f"s.extxyz: frames 0 and 1: field 'system_id' {sid!r} is not unique" in one_error_line(capsys)


def test_structures_of_another_dataset_or_results_of_other_structures_are_errors(structures, tmp_path, capsys):
    args = write_inputs(tmp_path, structures, [record(a, k) for k, a in enumerate(structures)])
    args[args.index("augqm9")] = "infcrystal"
    args[args.index("--config") + 1] = str(ROOT / "config/demo.yaml")
    assert main(args) == 2
    sid = structures[0].info["system_id"]
    assert f"s.extxyz: frame 0 ({sid}): field 'dataset' is 'augqm9', not 'infcrystal'" in one_error_line(capsys)
    assert not (tmp_path / "d.h5").exists()
    stranger = record(structures[0], 0, system_id="augqm9-999999-s00")
    assert main(write_inputs(tmp_path, structures[1:], [record(a, k) for k, a in enumerate(structures[1:])],
                             [stranger])) == 2
    assert "r1.jsonl: line 1: field 'system_id' 'augqm9-999999-s00' is not a structure of" in one_error_line(capsys)


def test_per_structure_provenance_round_trips(structures, tmp_path):
    steps = [("initial",), ("initial", "more_scf_steps"), ("initial", "more_scf_steps", SMEARING)]
    records = [record(a, k, steps[k % 3]) for k, a in enumerate(structures)]
    records[4]["scf_steps"] = None  # a backend without an SCF count
    args = write_inputs(tmp_path, structures, records)
    assert main(args) == 0
    back = read_dataset(tmp_path / "d.h5")
    prov = back.provenance
    assert back.attrs["schema_version"] == 2
    assert prov.ladder_step.tolist() == [s[-1] for k in range(12) for s in [steps[k % 3]]]
    assert prov.scf_steps.tolist() == [10 + k if k != 4 else -1 for k in range(12)]
    assert prov.input_hash.tolist() == [f"{k:064x}" for k in range(12)]
    np.testing.assert_array_equal(prov.walltime_s, [len(steps[k % 3]) + 1.0 for k in range(12)])
    assert prov.settings_index.tolist() == [0] * 12
    assert [json.loads(t) for t in prov.settings] == [{"backend": "cp2k", "settings": SETTINGS}]
    assert back.electronic_state_changed.tolist() == [k % 3 == 2 for k in range(12)]
    with h5py.File(tmp_path / "d.h5") as f:  # plain h5py sees the same, with each level's settings hash
        assert json.loads(f["provenance/settings"].asstr()[0])["settings"]["cutoff"] == 400
        assert len(f["provenance/settings_sha256"].asstr()[0]) == 64
        assert f["systems/electronic_state_changed"][2]
    with pytest.raises(InputFormatError, match="result 6: result for augqm9-.*: field 'walltime_s' is \"slow\", not a number"):
        pack("augqm9", structures, [r | {"walltime_s": "slow"} if k == 5 else r for k, r in enumerate(records)], CONFIG)
    # provenance is not training data: other timings give the same content hash
    for r in records:
        r["walltime_s"] *= 3
    main(args)
    assert read_dataset(tmp_path / "d.h5").attrs["content_sha256"] == back.attrs["content_sha256"]


def test_two_levels_are_refused_unless_allowed(structures, tmp_path, capsys):
    coarse = {**SETTINGS, "cutoff": 250}
    records = [record(a, k, settings=coarse if k >= 9 else SETTINGS) for k, a in enumerate(structures)]
    args = write_inputs(tmp_path, structures, records)
    assert main(args) == 2
    err = one_error_line(capsys)
    assert "r0.jsonl: line 1" in err and "r0.jsonl: line 10" in err
    assert "different levels of theory (field 'settings': cutoff 400 vs 250; 2 levels in all)" in err
    assert "--allow-mixed-levels" in err and not (tmp_path / "d.h5").exists()
    assert main(args + ["--allow-mixed-levels"]) == 0
    back = read_dataset(tmp_path / "d.h5")
    assert [json.loads(t)["settings"]["cutoff"] for t in back.provenance.settings] == [400, 250]
    assert back.provenance.settings_index.tolist() == [0] * 9 + [1] * 3
    capsys.readouterr()
    assert main(["info", str(tmp_path / "d.h5")]) == 0
    out = capsys.readouterr().out
    assert "settings 0    (9 systems, sha256" in out and "cutoff=400" in out
    assert "settings 1    (3 systems" in out and "differs from 0 in) cutoff=250" in out
    # settings blocks that differ only in the retry ladder's configuration are one level: packed, both recorded
    ladders = [record(a, k, settings={**SETTINGS, "ladder": "0123" if k < 6 else "4567", "max_retries": 3 + (k > 8)})
               for k, a in enumerate(structures)]
    both = pack("augqm9", structures, ladders, CONFIG).provenance
    assert both.settings_index.tolist() == [0] * 6 + [1] * 3 + [2] * 3 and len(both.settings) == 3
    other_backend = [record(a, k, backend="xtb" if k == 5 else "cp2k") for k, a in enumerate(structures)]
    with pytest.raises(InputFormatError, match="field 'backend': \"cp2k\" vs \"xtb\""):
        pack("augqm9", structures, other_backend, CONFIG)


def test_smearing_rung_is_flagged_counted_exported_and_left_out_of_training(structures, tmp_path, capsys):
    records = [record(a, k) for k, a in enumerate(structures)]
    plain = pack("augqm9", structures, records, CONFIG)
    flagged = [int(plain.splits["train"][0]), int(plain.splits["test"][0])]
    for k in flagged:
        records[k] = record(structures[k], k, ("initial", "more_scf_steps", SMEARING))
    arrays = pack("augqm9", structures, records, CONFIG)
    assert np.flatnonzero(arrays.state_changed).tolist() == sorted(flagged)
    write_dataset(tmp_path / "d.h5", arrays)

    assert main(["info", str(tmp_path / "d.h5")]) == 0
    out = capsys.readouterr().out
    assert "state changed 2 of 12 systems" in out
    assert f"ladder step   {SMEARING} 2, initial 10" in out
    assert main(["export", str(tmp_path / "d.h5"), "--format", "extxyz", "--out", str(tmp_path / "d.extxyz")]) == 0
    frames = read_structures(tmp_path / "d.extxyz")
    assert [k for k, f in enumerate(frames) if f.info["electronic_state_changed"]] == sorted(flagged)

    # default: left out of every split; exclude_state_changed: false keeps them
    default = select_splits(arrays, TrainConfig(), "d.h5")
    assert not set(flagged) & set(np.concatenate(list(default.values())).tolist())
    kept = select_splits(arrays, TrainConfig(exclude_state_changed=False), "d.h5")
    assert all(np.array_equal(kept[k], arrays.splits[k]) for k in kept)
    small = dict(model="mpnn", message=8, edge_width=8, n_rbf=8, epochs=1, batch_size=4, device="cpu")
    summary = train(arrays, TrainConfig(**small), tmp_path / "run")
    assert summary["n_train"] == len(arrays.splits["train"]) - 1
    assert main(["evaluate", "--run", str(tmp_path / "run"), "--data", str(tmp_path / "d.h5"), "--split", "test",
                 "--out", str(tmp_path / "eval")]) == 0
    assert json.loads((tmp_path / "eval" / "metrics.json").read_text())["n"] == len(arrays.splits["test"]) - 1


def test_state_changing_rungs_are_the_ladder_rungs_that_turn_on_smearing():
    """The flag follows what the handlers do: exactly the rungs whose fix adds SMEAR to an OT input."""
    tree = templates.render(molecule("CH4"), resolve({})).tree
    assert templates.get_path(tree, "force_eval/dft/scf/ot") is not None
    adds_smearing = {name for name, _, fix in handlers.HANDLERS
                     if templates.get_path(fix(tree), "force_eval/dft/scf/smear") is not None}
    assert adds_smearing == handlers.STATE_CHANGING == {SMEARING}


def test_schema_1_release_files_still_read_and_newer_files_are_refused(tmp_path, capsys):
    schema_1 = ROOT / "tests/data/schema1-infcrystal.h5"  # the mini release of 2026-11-24
    old = read_dataset(schema_1)
    assert old.attrs["schema_version"] == 1 and old.provenance is None and not old.state_changed.any()
    assert main(["info", str(schema_1)]) == 0
    assert "dft_settings" in capsys.readouterr().out
    write_dataset(tmp_path / "new.h5", old)
    with h5py.File(tmp_path / "new.h5", "r+") as f:
        assert f.attrs["schema_version"] == 2
        f.attrs["schema_version"] = 3
    with pytest.raises(DataFileError, match="schema_version 3 is newer than this vimpnn reads"):
        read_dataset(tmp_path / "new.h5")


def test_read_results_keeps_each_record_with_its_file_and_line(tmp_path):
    (tmp_path / "r.jsonl").write_text('{"system_id": "a", "status": "ok"}\n\n{"system_id": "b", "status": "ok"}\n')
    lines = read_results([tmp_path / "r.jsonl"])
    assert [(r.record["system_id"], r.where) for r in lines] == [("a", f"{tmp_path / 'r.jsonl'}: line 1"),
                                                                ("b", f"{tmp_path / 'r.jsonl'}: line 3")]


@pytest.mark.parametrize("field, value, expected", [
    ("energy", float("nan"), "field 'energy' is NaN, not finite"),
    ("energy", float("inf"), "field 'energy' is Infinity, not finite"),
    ("energy", True, "field 'energy' is true, not a number"),
    ("energy", "-5.0", "field 'energy' is \"-5.0\", not a number"),
    ("scf_steps", True, "field 'scf_steps' is true, not a number"),
    ("forces", [[True, 0.0, 0.0]] * 5, "field 'forces' is [[true, 0.0, 0.0]"),
])
def test_a_non_number_or_non_finite_field_is_one_line_naming_the_record(field, value, expected, structures, tmp_path,
                                                                         capsys):
    """Issue 15.3: NaN in one line was reported as two results differing (NaN vs NaN); `true` was packed as 1.0 eV."""
    records = [record(a, k, forces=np.zeros((len(a), 3)).tolist()) for k, a in enumerate(structures)]
    records[1][field] = value  # CH4 (5 atoms) at its second scaling
    args = write_inputs(tmp_path, structures, records)
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    sid = structures[1].info["system_id"]
    assert "r0.jsonl: line 2" in err and sid in err and expected in err and len(err.splitlines()) == 1, err
    assert "differ" not in err and not (tmp_path / "d.h5").exists()
