rule download_file:
    """A released file from the manifest: resumable, sha256-verified, renamed into place when complete."""
    input:
        manifest=config["download"]["manifest"],
    output:
        "results/download/{name}",
    log:
        "logs/download/{name}.log",
    wildcard_constraints:
        name=r"[A-Za-z0-9_.-]+",
    threads: 1
    resources:
        runtime=120,
    localrule: True
    conda:
        "../../envs/torch.yaml"
    shell:
        "vimpnn download --manifest {input.manifest} --name {wildcards.name} --out {output} &> {log}"
