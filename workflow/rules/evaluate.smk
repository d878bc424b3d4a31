# Evaluation: test-set metrics and predictions of one run directory (docs/experiments.md, docs/architecture.md).


rule evaluate_run:
    input:
        best="results/runs/{dataset}/{tag}/seed{seed}/best.pt",
        summary="results/runs/{dataset}/{tag}/seed{seed}/train.json",
        data=lambda wildcards: dataset_file(wildcards.dataset),
    output:
        metrics="results/evals/{dataset}/{tag}/seed{seed}/metrics.json",
        csv="results/evals/{dataset}/{tag}/seed{seed}/metrics.csv",
        predictions="results/evals/{dataset}/{tag}/seed{seed}/predictions.csv",
    params:
        run=lambda wildcards, input: os.path.dirname(input.best),
        out=lambda wildcards, output: os.path.dirname(output.metrics),
    log:
        "logs/evaluate/{dataset}/{tag}/seed{seed}.log",
    threads: 1
    resources:
        mem_mb=8000,
        runtime=60,
    conda:
        "../../envs/torch.yaml"
    shell:
        "OMP_NUM_THREADS={threads} vimpnn evaluate --run {params.run} --data {input.data} --split test"
        " --out {params.out} &> {log}"
