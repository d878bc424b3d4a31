rule config_section:
    """The validated config sections a rule family reads, as a file (rewritten only when they change)."""
    output:
        "results/config/datasets.yaml",
    params:
        sections=section_config(DATASET_SECTIONS),
    log:
        "logs/config/datasets.log",
    localrule: True
    run:
        write_yaml(output[0], params.sections, log[0])


rule dft_settings:
    """One dataset's dft: section; the box of its finite systems holds that dataset's largest scaling only."""
    output:
        "results/config/dft-{dataset}.yaml",
    params:
        dft=dataset_dft_settings,
    log:
        "logs/config/dft-{dataset}.log",
    localrule: True
    run:
        write_yaml(output[0], params.dft, log[0])


rule structures:
    input:
        config="results/config/datasets.yaml",
    output:
        "results/structures/{dataset}.extxyz",
    log:
        "logs/structures/{dataset}.log",
    benchmark:
        "results/benchmarks/structures/{dataset}.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../../envs/cp2k.yaml"
    shell:
        "vimpnn structures --dataset {wildcards.dataset} --config {input.config} --out {output} &> {log}"
