# Input functions and helpers shared by the rules: which datasets, how many DFT chunks, where files live.
import math

import yaml

from vimpnn.data.download import load_manifest
from vimpnn.structures.datasets import count_systems


wildcard_constraints:
    dataset="augqm9|infcrystal|growth_stable|growth_unstable",
    chunk=r"\d{5}",


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
