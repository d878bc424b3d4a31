# Tables 1-5, Figures 3-7 + training curves, and the HTML report; which ones: config `experiments`.


rule table:
    input:
        evaluations=table_evaluations,
        config="results/config/experiments.yaml",
    output:
        csv=report("results/tables/{table}.csv", caption="../report/table.rst", category="Tables", labels={"table": "{table}"}),
        md="results/tables/{table}.md",
    params:
        evals=EVALS,
        out=lambda wildcards, output: os.path.dirname(output.csv),
    log:
        "logs/tables/{table}.log",
    wildcard_constraints:
        table="table[1-5]",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/torch.yaml"
    shell:
        "vimpnn tables --config {input.config} --evals {params.evals} --table {wildcards.table} --out {params.out} &> {log}"


rule figure:
    input:
        figure_inputs,
        config="results/config/experiments.yaml",
    output:
        png=report("results/figures/{figure}.png", caption="../report/figure.rst", category="Figures", labels={"figure": "{figure}"}),
        svg="results/figures/{figure}.svg",
    params:
        evals=EVALS,
        runs=RUNS,
        data=lambda wildcards: data_arguments(figure_datasets(wildcards.figure, EXPERIMENTS)),
        out=lambda wildcards, output: os.path.dirname(output.png),
    log:
        "logs/figures/{figure}.log",
    wildcard_constraints:
        figure="fig[3-7]|training|parity|learning_curve",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../../envs/torch.yaml"
    shell:
        "OMP_NUM_THREADS={threads} vimpnn figures --config {input.config} --figure {wildcards.figure} --evals {params.evals}"
        " --runs {params.runs} {params.data} --out {params.out} &> {log}"


rule report_html:
    """One self-contained HTML page: tables, figures, dataset summaries, DFT settings and provenance."""
    input:
        tables=table_targets(),
        figures=figure_targets(),
        data=[dataset_file(d) for d in EXPERIMENTS.datasets],
        config="results/config/experiments.yaml",
    output:
        report("results/report/report.html", caption="../report/report.rst", category="Report"),
    params:
        data=data_arguments(EXPERIMENTS.datasets),
    log:
        "logs/report/report.log",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=10,
    conda:
        "../../envs/torch.yaml"
    shell:
        "vimpnn report --config {input.config} --tables results/tables --figures results/figures {params.data}"
        " --out {output} &> {log}"
