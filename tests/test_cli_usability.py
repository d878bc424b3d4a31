"""Command-line usability: train settings printed as a reusable YAML, log files without progress-bar carriage
returns but with timestamps, a compact `vimpnn info`."""

import re
import subprocess
import sys

import yaml

from tests.conftest import ROOT
from vimpnn.cli.main import main
from vimpnn.training import TrainConfig

DATA = ROOT / "datasets" / "release" / "augqm9.h5"


def test_print_config_merges_defaults_file_and_flags_and_is_a_valid_config(tmp_path, capsys):
    (tmp_path / "c.yaml").write_text("train:\n  lr: 0.002\n  T: 5\n")
    assert main(["train", "--print-config", "--config", str(tmp_path / "c.yaml"), "--T", "2"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)["train"]
    assert printed["lr"] == 0.002 and printed["T"] == 2 and printed["epochs"] == TrainConfig().epochs
    (tmp_path / "again.yaml").write_text(yaml.safe_dump({"train": printed}))
    main(["train", "--print-config", "--config", str(tmp_path / "again.yaml")])
    assert yaml.safe_load(capsys.readouterr().out)["train"] == printed


def test_training_log_has_timestamps_and_no_carriage_returns(tmp_path):
    (tmp_path / "small.yaml").write_text(yaml.safe_dump(
        {"model": "mpnn", "message": 8, "edge_width": 8, "n_rbf": 8, "epochs": 2}))
    log = tmp_path / "train.log"
    with open(log, "w") as fh:  # like Snakemake's `>> {log} 2>&1`: not a terminal
        subprocess.run([sys.executable, "-m", "vimpnn.cli.main", "train", "--data", str(DATA), "--config",
                        str(tmp_path / "small.yaml"), "--out", str(tmp_path / "run")], stdout=fh, stderr=fh,
                       check=True, env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    text = log.read_text()
    assert "\r" not in text
    epochs = [l for l in text.splitlines() if " INFO epoch " in l]
    assert len(epochs) == 2 and all(re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d INFO epoch \d/2 ", l) for l in epochs)


def test_info_is_compact(capsys, tmp_path):
    from tests.test_exchange import refs_at_another_level

    assert main(["info", str(ROOT / "datasets" / "release" / "growth_unstable.h5")]) == 0
    out = capsys.readouterr().out
    assert max(len(l) for l in out.splitlines()) <= 120
    assert "Al -52.8911, Cu -1306.2160 eV" in out and "other settings" not in out  # atoms at the clusters' level
    assert main(["info", str(refs_at_another_level(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert max(len(l) for l in out.splitlines()) <= 120 and "cutoff 400 vs 250" in out
