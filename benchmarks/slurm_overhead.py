"""What a SLURM job costs over running the same command locally, measured side by side on one cluster.

    tests/slurm/start-cluster.sh          # or any cluster: --partition/--account name yours
    SLURM_CONF=/var/tmp/vimpnn-slurm/etc/slurm.conf .venv/bin/python benchmarks/slurm_overhead.py --n 4

1. `srun true`: submission to completion of an empty job (SLURM alone), median of N.
2. A workflow of N independent `touch` jobs: locally (`--cores 2`), through snakemake-executor-plugin-slurm with
   the plugin's default job-state polling (what profiles/slurm uses), and with 1 s polling (what tests/test_slurm.py
   uses). From `sacct`: each job's wait in the queue and its run time; the run time is the job step's Snakemake
   start-up (the sbatch script runs Snakemake, which runs `srun` Snakemake, which runs `touch`).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

SNAKEFILE = """
rule all:
    input: expand("out/{i}.txt", i=range(N_JOBS))
    localrule: True

rule touch:
    output: "out/{i}.txt"
    resources: mem_mb=100, runtime=5
    shell: "touch {output}"
"""


def timed(cmd: list[str], cwd: Path | None = None) -> tuple[float, str]:
    t0 = time.perf_counter()
    res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{res.stdout[-2000:]}\n{res.stderr[-2000:]}")
    return time.perf_counter() - t0, res.stdout + res.stderr


def seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def workflow(n: int, slurm_args: list[str], tmp: Path, label: str) -> tuple[float, list[tuple[float, float]]]:
    """Wall time of the N-job workflow, and per SLURM job (queue wait, run time) from sacct."""
    wd = tmp / label
    wd.mkdir()
    (wd / "Snakefile").write_text(SNAKEFILE.replace("N_JOBS", str(n)))
    snakemake = str(Path(sys.executable).with_name("snakemake"))
    wall, out = timed([snakemake, *slurm_args], cwd=wd)
    jobs = []
    m = re.search(r"SLURM run ID: (\S+)", out)
    if m:
        acct = subprocess.run(["sacct", "-X", "-P", "-n", "--name", m[1], "-o", "Submit,Start,End,State"],
                              capture_output=True, text=True, check=True).stdout
        for line in acct.splitlines():
            submit, start, end, state = line.split("|")
            assert state == "COMPLETED", line
            jobs.append((seconds(start) - seconds(submit), seconds(end) - seconds(start)))
    return wall, jobs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4, help="jobs per measurement")
    parser.add_argument("--partition", default="cpu")
    parser.add_argument("--account", default="vimpnn")
    args = parser.parse_args()
    os.environ["PATH"] = f"{Path(sys.executable).parent}:{os.environ['PATH']}"

    srun = [timed(["srun", "-p", args.partition, "-A", args.account, "-n1", "--mem=100", "-t", "5", "true"])[0]
            for _ in range(args.n)]
    print(f"srun true (submission -> completion), median of {args.n}: {statistics.median(srun):.2f} s "
          f"(min {min(srun):.2f}, max {max(srun):.2f})")

    slurm = ["--executor", "slurm", "--jobs", "20", "--default-resources", f"slurm_partition={args.partition}",
             f"slurm_account={args.account}"]
    fast = ["--seconds-between-status-checks", "1", "--slurm-init-seconds-before-status-checks", "1"]
    with tempfile.TemporaryDirectory() as tmp:
        runs = {
            "local (--cores 2)": workflow(args.n, ["--cores", "2"], Path(tmp), "local"),
            "SLURM, plugin default polling": workflow(args.n, slurm, Path(tmp), "slurm-default"),
            "SLURM, 1 s polling": workflow(args.n, slurm + fast, Path(tmp), "slurm-fast"),
        }
    local = runs["local (--cores 2)"][0]
    print(f"\nworkflow of {args.n} touch jobs: wall time, ratio to local; per SLURM job: queue wait, run time (median)")
    for label, (wall, jobs) in runs.items():
        line = f"  {label:<30} {wall:6.1f} s  x{wall / local:5.1f}"
        if jobs:
            line += (f"   queue {statistics.median(j[0] for j in jobs):4.0f} s"
                     f"   run {statistics.median(j[1] for j in jobs):4.0f} s")
        print(line)


if __name__ == "__main__":
    main()
