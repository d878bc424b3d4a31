rule pack:
    """Structures + every chunk's results -> the dataset's HDF5 file (failed structures listed in /failed)."""
    input:
        structures="results/structures/{dataset}.extxyz",
        results=chunk_files,
        refs="results/dft/{dataset}/references.json",
        config="results/config/datasets.yaml",
    output:
        "results/datasets/{dataset}.h5",
    log:
        "logs/pack/{dataset}.log",
    threads: 1
    resources:
        mem_mb=8000,
        runtime=60,
    conda:
        "../../envs/cp2k.yaml"
    shell:
        "vimpnn pack --dataset {wildcards.dataset} --structures {input.structures} --results {input.results}"
        " --refs {input.refs} --config {input.config} --out {output} &> {log}"
