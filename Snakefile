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
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        dataset_targets(),
        report_targets(),


rule datasets:
    input:
        dataset_targets(),


rule download:
    input:
        download_targets(),


rule train_all:
    input:
        train_all_targets(),


rule evaluate:
    input:
        evaluate_targets(),


rule tables:
    input:
        table_targets(),


rule figures:
    input:
        figure_targets(),


rule report:
    input:
        report_targets(),


rule demo:
    """`make demo`: real CP2K on the demo structures, then training, tables, figures and the report."""
    input:
        dataset_targets(),
        report_targets(),
