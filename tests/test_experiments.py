"""The experiment design: every run the paper's tables and figures need, each exactly once."""

import pytest

from vimpnn.errors import InputFormatError
from vimpnn.experiments import (
    ALL_AUX,
    TABLES,
    Experiments,
    RunSpec,
    design,
    design_specs,
    figure_specs,
    run_from_path,
    table_rows,
    train_arguments,
    train_command,
)

FULL = Experiments.from_config({"experiments": {"seeds": [0, 1]}})


def test_design_is_deduplicated_and_complete():
    runs = design(FULL)
    paths = [r.path for r in runs]
    assert len(paths) == len(set(paths))
    specs = design_specs(FULL)
    # 18 on augqm9 (T1: 6 Table-1 rows; T3: 5 variants; T4: 3; T5: 4 new T=1/8 runs; MPNN/a.ii/VIMPNN shared),
    # infcrystal 2, growth_stable 4 (MPNN, VIMPNN, VIMPNN <=25 atoms, VIMPNN without atom head), growth_unstable 3.
    assert len(specs) == 27
    assert len(runs) == 2 * 27
    for table in TABLES:
        for row in table_rows(table, FULL):
            assert row.spec in specs, (table, row.label)


def test_rows_match_the_paper_tables():
    assert len(table_rows("table1", FULL)) == 6
    assert len(table_rows("table2", FULL)) == 8
    assert len(table_rows("table3", FULL)) == 5
    assert len(table_rows("table4", FULL)) == 3
    assert len(table_rows("table5", FULL)) == 6
    # Table 2 VIMPNN is a.ii + all three heads; growth is restricted to <= 75 atoms, QM9 is not
    t2 = {r.paper_key: r.spec for r in table_rows("table2", FULL)}
    assert t2[("VIMPNN", "growth_unstable")] == RunSpec("growth_unstable", "vimpnn", "a.ii", ALL_AUX, 3, 75)
    assert t2[("MPNN", "augqm9")].max_atoms is None
    # Table 5's T=3 rows are Table 2's augqm9 runs (same directories, trained once)
    t5 = {r.paper_key: r.spec for r in table_rows("table5", FULL)}
    assert t5[("VIMPNN", "3")] == t2[("VIMPNN", "augqm9")]
    assert t5[("MPNN", "3")] == t2[("MPNN", "augqm9")]
    # Table 1 auxiliary heads sit on the no-bond-type baseline
    assert {r.spec.model for r in table_rows("table1", FULL)[3:]} == {"mpnn_nobt"}


def test_table1_can_train_on_fewer_molecules_sharing_the_learning_curve_runs():
    exp = Experiments.from_config(
        {"experiments": {"table1_train_groups": 300, "learning_curve": {"n_groups": [100, 300]}, "peer": True}}
    )
    rows = table_rows("table1", exp)
    assert {r.spec.max_train_groups for r in rows} == {300}
    assert {r.spec.max_train_groups for r in table_rows("table2", exp)} == {None}
    # Table 1's MPNN row is the learning curve's 300-molecule MPNN run: trained once
    assert rows[1].spec in figure_specs("learning_curve", exp)
    with pytest.raises(InputFormatError, match="table1_train_groups"):
        Experiments.from_config({"experiments": {"table1_train_groups": 0}})


def test_tags_round_trip_and_train_arguments():
    for run in design(FULL):
        assert run_from_path(f"results/runs/{run.path}") == run
    spec = RunSpec("growth_stable", "vimpnn", "a.ii", ALL_AUX, 3, 75, 25)
    (run,) = [r for r in design(FULL) if r.spec == spec and r.seed == 1]
    args = train_arguments(run, FULL)
    assert args == [
        "--model", "vimpnn", "--variant", "a.ii", "--aux", ",".join(ALL_AUX), "--T", "3", "--seed", "1",
        "--batch-size", "5", "--max-atoms", "75", "--max-train-atoms", "25",
    ]


def test_demo_subset_selects_few_runs():
    demo = Experiments.from_config(
        {"experiments": {"seeds": [0, 1], "epochs": 2, "datasets": ["augqm9"], "tables": ["table2"], "figures": ["fig3"]}}
    )
    runs = design(demo)
    assert {r.spec.tag for r in runs} == {"mpnn-T3", "vimpnn-a.ii-atoms+orbitals+scaling-T3"}
    assert len(runs) == 4
    assert train_arguments(runs[0], demo)[-2:] == ["--epochs", "2"]


def test_learning_curve_runs_and_per_dataset_epochs():
    exp = Experiments.from_config({"experiments": {
        "seeds": [0, 1], "datasets": ["augqm9", "infcrystal"], "tables": ["table2"], "figures": ["learning_curve"],
        "epochs": {"augqm9": 40, "infcrystal": 300}, "learning_curve": {"n_groups": [300, 100]}}})
    specs = figure_specs("learning_curve", exp)
    assert [s.max_train_groups for s in specs] == [100, 100, 300, 300, None, None]
    assert {s.model for s in specs} == {"mpnn", "vimpnn"}
    tags = {s.tag for s in design_specs(exp)}
    assert "vimpnn-a.ii-atoms+orbitals+scaling-T3-first100" in tags and "mpnn-T3-first300" in tags
    assert len(design(exp)) == 2 * (4 + 4)  # learning curve (2 sizes x 2 models) + Table 2 on 2 datasets
    by_tag = {(r.spec.dataset, r.spec.tag, r.seed): r for r in design(exp)}
    run = by_tag[("augqm9", "mpnn-T3-first100", 1)]
    assert run_from_path(f"runs/{run.path}") == run
    assert train_arguments(run, exp)[-4:] == ["--epochs", "40", "--max-train-groups", "100"]
    assert train_arguments(by_tag[("infcrystal", "mpnn-T3", 0)], exp)[-2:] == ["--epochs", "300"]
    assert RunSpec.from_tag("augqm9", "mpnn-T3-first100").label == "MPNN, trained on 100 molecules"
    with_peer = Experiments.from_config({"experiments": {"peer": True, "learning_curve": {"n_groups": [100]}}})
    peer_runs = [r for r in design(with_peer) if r.spec.model == "schnet" and r.spec.max_train_groups == 100]
    assert len(peer_runs) == 3 and train_arguments(peer_runs[0], with_peer)[-2:] == ["--max-train-groups", "100"]
    no_curve = Experiments.from_config({"experiments": {"figures": ["learning_curve"], "tables": []}})
    assert figure_specs("learning_curve", no_curve) == []


def test_peer_rows_only_when_enabled():
    peer = Experiments.from_config({"experiments": {"seeds": [0], "peer": True}})
    assert len(table_rows("table2", FULL)) == 8 and len(table_rows("table2", peer)) == 12
    t2 = {r.paper_key: r for r in table_rows("table2", peer)}
    row = t2[("SchNet", "growth_stable")]
    assert row.spec == RunSpec("growth_stable", "schnet", max_atoms=75) and row.spec.tag == "schnet-le75"
    assert row.spec.label == "SchNet (schnetpack)"
    (run,) = [r for r in design(peer) if r.spec == row.spec]
    assert run_from_path(run.path) == run and train_command(run.spec) == "train-peer"
    assert train_arguments(run, peer) == ["--seed", "0", "--batch-size", "5", "--max-atoms", "75"]
    assert train_command(t2[("MPNN", "augqm9")].spec) == "train"
    with pytest.raises(InputFormatError, match="no auxiliary heads"):
        RunSpec("augqm9", "schnet", aux=("scaling_gaussian",))


@pytest.mark.parametrize(
    "section", [{"epochs": {"augqm9": 3}}, {"tables": ["table9"]}, {"datasets": ["qm7"]}, {"seeds": []}, {"sedes": [0]},
     {"published": "x"}, {"peer": "yes"}]
)
def test_bad_config_is_a_user_error(section):
    with pytest.raises(InputFormatError, match="experiments"):
        Experiments.from_config({"experiments": section})


def test_bad_run_names_are_user_errors():
    with pytest.raises(InputFormatError):
        RunSpec.from_tag("augqm9", "vimpnn-a.ii-foo-T3")
    with pytest.raises(InputFormatError):
        RunSpec("augqm9", "mpnn", variant="a.ii")


def test_max_train_groups_per_dataset_limits_every_run_on_it():
    exp = Experiments.from_config({"experiments": {"seeds": [0], "datasets": ["augqm9", "infcrystal"],
                                                   "tables": ["table2"], "figures": [],
                                                   "max_train_groups": {"augqm9": 50}}})
    tags = {(s.dataset, s.tag) for s in design_specs(exp)}
    assert tags == {("augqm9", "mpnn-T3-first50"), ("augqm9", "vimpnn-a.ii-atoms+orbitals+scaling-T3-first50"),
                    ("infcrystal", "mpnn-T3"), ("infcrystal", "vimpnn-a.ii-atoms+orbitals+scaling-T3")}


def test_one_schedule_reaches_our_models_and_the_peer_alike():
    """`experiments.schedule` gives every model the same plateau schedule; the arguments it makes parse into
    each trainer's settings (`vimpnn train` and `vimpnn train-peer` name the decay factor differently)."""
    import argparse

    from vimpnn.cli import train as train_cli, train_peer as peer_cli
    from vimpnn.peer import PeerConfig

    exp = Experiments.from_config({"experiments": {
        "seeds": [0], "peer": True, "datasets": ["augqm9", "infcrystal"], "tables": ["table2"], "figures": [],
        "schedule": {"lr": 5e-4, "lr_decay": 0.5, "lr_patience": {"augqm9": 3, "infcrystal": 20}, "patience": 8}}})
    runs = {(r.spec.dataset, r.spec.model): r for r in design(exp)}
    for cli, model in ((train_cli, "vimpnn"), (peer_cli, "schnet")):
        parser = argparse.ArgumentParser()
        cli.add_arguments(parser)
        for dataset, lr_patience in (("augqm9", 3), ("infcrystal", 20)):
            args = parser.parse_args(["--data", "x.h5", "--out", "o", *train_arguments(runs[dataset, model], exp)])
            if model == "schnet":
                config = PeerConfig(**{k: getattr(args, k) for k in peer_cli.FLAG_KEYS if getattr(args, k) is not None})
                assert config.lr_factor == 0.5
            else:
                config = train_cli.resolve_config(args)
                assert config.lr_schedule == "plateau" and config.lr_decay == 0.5
            assert (config.lr, config.lr_patience, config.patience) == (5e-4, lr_patience, 8)
    # without a schedule each model keeps its own recipe: no schedule flags at all
    assert not {"--lr", "--lr-schedule", "--patience"} & set(train_arguments(design(FULL)[0], FULL))
    with pytest.raises(InputFormatError, match="schedule: unknown key 'momentum'"):
        Experiments.from_config({"experiments": {"schedule": {"momentum": 0.9}}})
    with pytest.raises(InputFormatError, match=r"schedule.patience: no value for dataset\(s\) \['infcrystal'"):
        Experiments.from_config({"experiments": {"schedule": {"patience": {"augqm9": 8}}}})
