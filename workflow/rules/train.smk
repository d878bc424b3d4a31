# Training: one job = one run directory results/runs/<dataset>/<tag>/seed<N> (tags: vimpnn.experiments.RunSpec).
# A killed job resumes from the run directory's last.pt, which is deliberately not a declared output
# (Snakemake would delete it before the rerun); the declared outputs appear only when training ends.


rule train_config:
    """The train section as a file: changing it retrains every run, changing `experiments` does not."""
    output:
        TRAIN_CONFIG,
    params:
        train=config.get("train", {}),
    log:
        "logs/config/train.log",
    localrule: True
    run:
        write_yaml(output[0], params.train, log[0])


rule experiments_config:
    """The experiments section as a file, read by the table, figure and report builders."""
    output:
        "results/config/experiments.yaml",
    params:
        sections=section_config(("experiments",)),
    log:
        "logs/config/experiments.log",
    localrule: True
    run:
        write_yaml(output[0], params.sections, log[0])


rule train:
    """Train one model (`vimpnn train`, or `vimpnn train-peer` for SchNet); placed on a GPU node by a cluster
    profile, runs on the CPU when there is none."""
    input:
        data=lambda wildcards: dataset_file(wildcards.dataset),
        config=trainer_config,
    output:
        best="results/runs/{dataset}/{tag}/seed{seed}/best.pt",
        summary="results/runs/{dataset}/{tag}/seed{seed}/train.json",
    params:
        args=trainer_arguments,
        out=lambda wildcards, output: os.path.dirname(output.best),
    log:
        "logs/train/{dataset}/{tag}/seed{seed}.log",
    benchmark:
        "results/benchmarks/train/{dataset}/{tag}/seed{seed}.tsv"
    threads: RESOURCES["threads"]
    resources:
        gpu=RESOURCES["gpu"],
        mem_mb=RESOURCES["mem_mb"],
        runtime=RESOURCES["runtime"],
    conda:
        "../../envs/torch.yaml"
    shell:
        "OMP_NUM_THREADS={threads} vimpnn {params.args} --data {input.data} --restart-on-change --out {params.out}"
        " >> {log} 2>&1"
