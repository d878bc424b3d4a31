"""Issue 14.5: every command that reads a config or a count checks it against the workflow's schema first.

Each probe below was a traceback or a silent exit 0 before; each must now be exit status 2 with one line
on stderr that names the key, flag, file or record at fault.
"""

import pytest
import yaml

from tests.conftest import ROOT
from tests.test_qm9 import CH4
from tests.test_training import SMALL, emt_arrays
from vimpnn.cli.main import main
from vimpnn.data.hdf5 import write_dataset

DEMO = yaml.safe_load((ROOT / "config/demo.yaml").read_text())
INFCRYSTAL = {"infcrystal": DEMO["infcrystal"]}


def _yaml(data) -> str:
    return yaml.safe_dump(data)


def _structures(config) -> dict:
    return {"config": _yaml(config),
            "argv": ["structures", "--dataset", "infcrystal", "--config", "{config}", "--out", "{tmp}/s.extxyz"]}


def _qm9_with(line: str) -> dict:
    qm9 = CH4.replace("H\t 1.0117308433\t 1.4637511618", line)
    config = {"qm9": {"source": "xyz", "path": "{tmp}/bad.xyz", "n_molecules": 1},
              "augqm9": {"scalings": {"min": 1.0, "max": 1.0, "n": 1}}}
    return {"bad.xyz": qm9, "config": _yaml(config),
            "argv": ["structures", "--dataset", "augqm9", "--config", "{config}", "--out", "{tmp}/s.extxyz"]}


def _train(*flags, config=None) -> dict:
    return {"config": _yaml(config or SMALL),
            "argv": ["train", "--data", "{data}", "--out", "{tmp}/run", "--model", "mpnn", "--config", "{config}", *flags]}


def _dft(settings=None, *flags, structures="{structures}") -> dict:
    return {"config": _yaml(settings or {"backend": "emt"}),
            "argv": ["dft", "--in", structures, "--out", "{tmp}/r.jsonl", "--settings", "{config}", "--backend", "emt",
                     "--cache", "{tmp}/cache", "--no-progress", *flags]}


PROBES = {
    # config files
    "wrong type": (_structures({"infcrystal": {**DEMO["infcrystal"], "n_train_per_element": "one"}}),
                   "infcrystal.n_train_per_element: 'one' is not of type 'integer'"),
    "negative count": (_structures({"infcrystal": {**DEMO["infcrystal"], "scalings": {"min": 0.9, "max": 1.5, "n": -3}}}),
                       "infcrystal.scalings.n: -3 is less than the minimum of 1"),
    "min > max": (_structures({"infcrystal": {**DEMO["infcrystal"], "scalings": {"min": 1.5, "max": 0.9, "n": 3}}}),
                  "infcrystal.scalings: min 1.5 is greater than max 0.9"),
    "unknown key": (_structures({**INFCRYSTAL, "infcrystl": {}}), "unknown key 'infcrystl'"),
    "empty config": (_structures(None), "is empty"),
    "config without the dataset's section": (_structures({"seed": 0}), "no 'infcrystal' section"),
    "dft cutoff -5": (_dft({"backend": "emt", "cutoff": -5}), "dft.cutoff: -5 is less than or equal to the minimum of 0"),
    "dft template value": (_dft({"backend": "emt", "templates": {"bulk_metal": {"cutoff": -5}}}),
                           "dft.templates.bulk_metal.cutoff: -5"),
    "train config text for a number": (_train(config={**SMALL, "epochs": "many"}), "train.epochs: 'many' is not of type"),
    # command-line arguments
    "--batch-size 0": (_train("--batch-size", "0"), "--batch-size: 0 is less than the minimum of 1"),
    "--lr -1": (_train("--lr", "-1"), "--lr: -1.0 is less than or equal to the minimum of 0"),
    "--epochs 0": (_train("--epochs", "0"), "--epochs: 0 is less than the minimum of 1"),
    "--start 4 --stop 2": (_dft(None, "--start", "4", "--stop", "2"), "--start 4 --stop 2 selects no structures"),
    "--jobs 0": (_dft(None, "--jobs", "0"), "--jobs: 0 is less than the minimum of 1"),
    # Issue 15.2: non-finite numbers reached torch (a traceback, or an epoch of training on inf)
    "--lr nan": (_train("--lr", "nan"), "--lr: nan is not a finite number"),
    "--lr inf": (_train("--lr", "inf"), "--lr: inf is not a finite number"),
    "train config lr .nan": (_train(config={**SMALL, "lr": float("nan")}), "train.lr: nan is not a finite number"),
    "dft cutoff .inf": (_dft({"backend": "emt", "cutoff": float("inf")}), "dft.cutoff: inf is not a finite number"),
    "YAML syntax error": ({"config": "dft:\n  cutoff: [1,\n", "argv": _structures({})["argv"]},
                          "config.yaml: not valid YAML at line 3, column 1: expected the node content"),
    # empty inputs, non-finite coordinates
    "empty structures file": (_dft(structures="{tmp}/empty.extxyz"), "empty.extxyz: no structures"),
    "QM9 nan coordinate": (_qm9_with("H\t nan\t 1.4637511618"), "bad.xyz: record gdb 1 line 5: coordinate x 'nan' is not finite"),
    "QM9 inf coordinate": (_qm9_with("H\t 1.0117308433\t inf"), "bad.xyz: record gdb 1 line 5: coordinate y 'inf' is not finite"),
}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A small dataset file and a structures file the probes point at."""
    tmp = tmp_path_factory.mktemp("inputs")
    write_dataset(tmp / "d.h5", emt_arrays(12))
    assert main(["structures", "--dataset", "infcrystal", "--config", str(ROOT / "config/demo.yaml"),
                 "--out", str(tmp / "s.extxyz")]) == 0
    return {"data": str(tmp / "d.h5"), "structures": str(tmp / "s.extxyz")}


@pytest.mark.parametrize("probe", list(PROBES))
def test_bad_value_is_one_line_naming_the_key(probe, inputs, tmp_path, capsys):
    spec, expected = PROBES[probe]
    fill = {**inputs, "tmp": str(tmp_path), "config": str(tmp_path / "config.yaml")}
    (tmp_path / "empty.extxyz").write_text("")
    for name, text in spec.items():
        if name != "argv":
            (tmp_path / ("config.yaml" if name == "config" else name)).write_text((text or "").replace("{tmp}", str(tmp_path)))
    capsys.readouterr()
    assert main([a.format(**fill) for a in spec["argv"]]) == 2
    err = capsys.readouterr().err.strip()
    assert expected in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "s.extxyz").exists() and not (tmp_path / "r.jsonl").exists()
    assert not (tmp_path / "run").exists()



def test_schema_is_the_one_definition_of_train_and_dft_keys():
    """The command line validates with the schema: its train/dft keys must be the trainer's and the engine's."""
    from vimpnn.dft.settings import DEFAULTS
    from vimpnn.models import AUX_HEADS, MODEL_NAMES, VARIANTS
    from vimpnn.training import TrainConfig
    from vimpnn.validation import schema

    train = schema()["properties"]["train"]["properties"]
    assert {k: v.get("default") for k, v in train.items()} == TrainConfig().to_dict()
    assert train["model"]["enum"] == list(MODEL_NAMES) and train["variant"]["enum"] == list(VARIANTS)
    assert train["aux"]["anyOf"][2]["items"]["enum"] == list(AUX_HEADS)
    assert set(schema()["properties"]["dft"]["properties"]) == set(DEFAULTS)


@pytest.mark.parametrize("config", ["config.yaml", "demo.yaml", "release.yaml"])
def test_shipped_configs_pass(config):
    from vimpnn.validation import load_checked

    load_checked(ROOT / "config" / config, require=("qm9", "augqm9", "infcrystal", "growth"))


@pytest.mark.parametrize("value", ["inf", "nan"])
def test_train_peer_refuses_a_non_finite_learning_rate(value, inputs, tmp_path, capsys):
    """Issue 15.2: `train-peer --lr inf` trained with it; its flags are checked by argparse (usage, then the error)."""
    with pytest.raises(SystemExit) as exc:
        main(["train-peer", "--data", inputs["data"], "--out", str(tmp_path / "run"), "--lr", value])
    assert exc.value.code == 2 and f"--lr: {value} is not a finite positive number" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
