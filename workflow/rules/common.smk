# Input functions and helpers shared by the rules: which datasets, how many DFT chunks, where files live,
# the experiment design's runs, tables and figures. Rule files hold rules only (snakemake --lint).
import math
import os

import yaml

from vimpnn.data.download import load_manifest
from vimpnn.experiments import (Experiments, design, enabled_figures, figure_datasets, figure_specs, run_from_path,
                                seeds_of, table_rows, train_arguments, train_command)
from vimpnn.structures.datasets import count_systems, max_scale

EXPERIMENTS = Experiments.from_config(config)
RESOURCES = EXPERIMENTS.resources
EVALS = "results/evals"
TRAIN_CONFIG = "results/config/train.yaml"
RUNS = "results/runs"


wildcard_constraints:
    dataset="augqm9|infcrystal|growth_stable|growth_unstable",
    chunk=r"\d{5}",
    tag=r"[A-Za-z0-9_.+\-]+",
    seed=r"\d+",


# the config sections that define a dataset's structures and DFT (written to one file per rule family)
DATASET_SECTIONS = ("seed", "qm9", "augqm9", "infcrystal", "growth", "lattice_constants", "dft")


def section_config(names):
    return {k: config[k] for k in names if k in config}


def chunk_size(dataset):
    return lookup(dpath=f"workflow/chunk_size/{dataset}", within=config)


def n_chunks(dataset):
    return math.ceil(count_systems(dataset, config) / chunk_size(dataset))


def chunk_files(wildcards):
    n = n_chunks(wildcards.dataset)
    return [f"results/dft/{wildcards.dataset}/chunk-{i:05d}.jsonl" for i in range(n)]


def chunk_bounds(wildcards):
    start = int(wildcards.chunk) * chunk_size(wildcards.dataset)
    return {"start": start, "stop": min(start + chunk_size(wildcards.dataset), count_systems(wildcards.dataset, config))}


def dataset_dft_settings(wildcards):
    """The dft: section for one dataset: its box holds its own largest scaling (growth_stable: 1.0)."""
    return {**config["dft"], "max_scale": max_scale(wildcards.dataset, config)}


def dataset_targets():
    return [f"results/datasets/{d}.h5" for d in config["datasets"]]


def dataset_file(dataset):
    """The HDF5 file training reads: computed here, shipped with the project (CP2K or fast level), or downloaded."""
    source = config["experiments"]["data"]
    return {
        "computed": f"results/datasets/{dataset}.h5",
        "release": f"datasets/release/{dataset}.h5",
        "fast": f"datasets/fast/{dataset}.h5",
        "download": f"results/download/{dataset}.h5",
    }[source]


def download_targets():
    return [f"results/download/{name}" for name in load_manifest(config["download"]["manifest"])]


def write_yaml(path, data, log):
    """A config section as a YAML file (the rules that write them record it in their log)."""
    with open(path, "w") as fh:
        yaml.safe_dump(data, fh, sort_keys=True)
    with open(log, "w") as fh:
        fh.write(f"wrote {path}\n")


def run_paths():
    """Every run directory of the experiment design, relative to results/runs (and results/evals)."""
    return [run.path for run in design(EXPERIMENTS)]


def train_all_targets():
    return expand("results/runs/{path}/train.json", path=run_paths())


def _run(wildcards):
    return run_from_path(f"{wildcards.dataset}/{wildcards.tag}/seed{wildcards.seed}")


def trainer_config(wildcards):
    """The train section's file for our models; the peer follows schnetpack's recipe, not that section."""
    return TRAIN_CONFIG if train_command(_run(wildcards).spec) == "train" else []


def trainer_arguments(wildcards):
    """Subcommand and arguments: `train --config FILE ...`, or `train-peer ...` with the same epoch budget."""
    run = _run(wildcards)
    args = train_arguments(run, EXPERIMENTS)
    if train_command(run.spec) == "train":
        return ["train", "--config", TRAIN_CONFIG] + args
    epochs = config.get("train", {}).get("epochs")
    return ["train-peer"] + args + (["--epochs", str(epochs)] if EXPERIMENTS.epochs is None and epochs else [])


def evaluate_targets():
    return expand("results/evals/{path}/metrics.json", path=run_paths())


def table_targets():
    return expand("results/tables/{table}.{ext}", table=EXPERIMENTS.tables, ext=("csv", "md"))


def figure_targets():
    return expand("results/figures/{figure}.{ext}", figure=enabled_figures(EXPERIMENTS), ext=("png", "svg"))


def report_targets():
    return ["results/report/report.html"]


def table_evaluations(wildcards):
    specs = {row.spec for row in table_rows(wildcards.table, EXPERIMENTS) if row.spec.dataset in EXPERIMENTS.datasets}
    return [f"{EVALS}/{run.path}/metrics.json" for spec in specs for run in seeds_of(spec, EXPERIMENTS)]


def figure_inputs(wildcards):
    """What one figure reads: predictions, or training summaries (log.csv beside), or a checkpoint + data."""
    runs = [run for spec in figure_specs(wildcards.figure, EXPERIMENTS) for run in seeds_of(spec, EXPERIMENTS)]
    if wildcards.figure == "training":
        return [f"{RUNS}/{run.path}/train.json" for run in runs]
    if wildcards.figure == "fig7":
        return [f"{RUNS}/{run.path}/best.pt" for run in runs[:1]] + [dataset_file("growth_unstable")]
    return [f"{EVALS}/{run.path}/predictions.csv" for run in runs]


def data_arguments(datasets):
    return " ".join(f"--data {d}={dataset_file(d)}" for d in datasets)
