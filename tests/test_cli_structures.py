import subprocess
import sys

from tests.conftest import ROOT
from vimpnn.cli.main import main
from vimpnn.structures.io import read_structures


def test_structures_cli_writes_all_demo_datasets(tmp_path, capsys):
    for name, n in [("augqm9", 6), ("infcrystal", 6), ("growth_stable", 2), ("growth_unstable", 4)]:
        out = tmp_path / f"{name}.extxyz"
        assert main(["structures", "--dataset", name, "--config", str(ROOT / "config/demo.yaml"), "--out", str(out)]) == 0
        assert f"wrote {n} {name} systems" in capsys.readouterr().out
        frames = read_structures(out)
        assert len(frames) == n and all(f.info["dataset"] == name for f in frames)
        assert len({f.info["system_id"] for f in frames}) == n
    part = read_structures(tmp_path / "infcrystal.extxyz", 2, 5)
    assert [f.info["source_id"] for f in part] == [2, 0, 1]


def test_help_lists_subcommands():
    out = subprocess.run([sys.executable, "-m", "vimpnn.cli.main", "--help"], capture_output=True, text=True).stdout
    assert "structures" in out


def test_bad_config_is_one_line_error(tmp_path, capsys):
    assert main(["structures", "--dataset", "augqm9", "--config", str(tmp_path / "no.yaml"), "--out", "x"]) == 2
    assert "no.yaml does not exist" in capsys.readouterr().err
