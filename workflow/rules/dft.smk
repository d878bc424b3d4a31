rule dft_chunk:
    """One chunk of structures through the DFT engine; finished structures come from the cache on a rerun."""
    input:
        structures="results/structures/{dataset}.extxyz",
        settings="results/config/dft-{dataset}.yaml",
    output:
        "results/dft/{dataset}/chunk-{chunk}.jsonl",
    log:
        "logs/dft/{dataset}/chunk-{chunk}.log",
    params:
        bounds=chunk_bounds,
        backend=lookup(dpath="dft/backend", within=config),
        cache=lookup(dpath="dft/cache_dir", within=config),
        omp=config["dft"].get("omp_threads", 1) * config["dft"].get("mpi_ranks", 1),
    threads: lookup(dpath="workflow/dft_threads", within=config)
    resources:
        mem_mb=lookup(dpath="workflow/dft_mem_mb", within=config),
        runtime=lookup(dpath="workflow/dft_runtime_min", within=config),
    conda:
        "../../envs/cp2k.yaml"
    shell:
        # threads = parallel CP2K processes x (OMP threads x MPI ranks) each
        "vimpnn dft --in {input.structures} --start {params.bounds[start]} --stop {params.bounds[stop]}"
        " --settings {input.settings} --backend {params.backend} --jobs $(( {threads} / {params.omp} > 0 ? {threads} / {params.omp} : 1 ))"
        " --cache {params.cache}"
        " --out {output} &> {log}"


rule dft_references:
    """Isolated-atom energies at the dataset's level (its template's settings), so atomization energies can be formed."""
    input:
        structures="results/structures/{dataset}.extxyz",
        settings="results/config/dft-{dataset}.yaml",
    output:
        "results/dft/{dataset}/references.json",
    log:
        "logs/dft/{dataset}/references.log",
    params:
        backend=lookup(dpath="dft/backend", within=config),
        cache=lookup(dpath="dft/cache_dir", within=config),
    threads: 1
    resources:
        mem_mb=lookup(dpath="workflow/dft_mem_mb", within=config),
        runtime=lookup(dpath="workflow/dft_runtime_min", within=config),
    conda:
        "../../envs/cp2k.yaml"
    shell:
        "vimpnn dft-refs --structures {input.structures} --settings {input.settings} --backend {params.backend}"
        " --cache {params.cache} --out {output} &> {log}"
