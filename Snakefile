# vimpnn: structures -> CP2K -> HDF5 datasets -> MPNN/VIMPNN training -> the paper's tables and figures.
# Targets: datasets, download, train_all, evaluate, tables, figures, report, demo, all.
from snakemake.utils import min_version, validate

min_version("8.0")


configfile: "config/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/structures.smk"
include: "workflow/rules/dft.smk"
include: "workflow/rules/pack.smk"
include: "workflow/rules/download.smk"


rule all:
    input:
        dataset_targets(),


rule datasets:
    input:
        dataset_targets(),


rule download:
    input:
        download_targets(),
