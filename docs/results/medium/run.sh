#!/usr/bin/env bash
# The medium experiment (config/medium.yaml) in the order its results matter: AugQM9 Table 2 runs and the
# learning curve first, then the metal datasets, then Table 1, then the rest, tables, figures and the report;
# finally the results are copied here. Each stage is an ordinary Snakemake call, so a killed run resumes where
# it stopped (`snakemake --unlock`, then run this again: finished runs are kept, a killed training resumes from
# its last.pt). `--rerun-triggers mtime`: a code change in the package does not retrain finished runs.
#   bash docs/results/medium/run.sh [snakemake options]       e.g. --cores 2
set -euo pipefail
cd "$(dirname "$0")/../../.."
SMK=(snakemake --configfile=config/medium.yaml --rerun-triggers mtime --rerun-incomplete --keep-going "${@:---cores 2}")
ALL="{mpnn-T3,vimpnn-a.ii-atoms+orbitals+scaling-T3,schnet}"
stage() { echo "== $(date -u +%FT%TZ) stage $1"; shift; eval "${SMK[*]} $*"; }
start=$(date +%s)
stage "1: AugQM9 MPNN/VIMPNN/SchNet, learning curve" "results/evals/augqm9/${ALL}{,-first100}/seed{0,1}/metrics.json" \
  "results/evals/augqm9/${ALL}-first300/seed0/metrics.json"
stage "2: metals, Table 2" "results/evals/infcrystal/${ALL}/seed{0,1}/metrics.json" \
  "results/evals/growth_{stable,unstable}/{mpnn-T3-le30,vimpnn-a.ii-atoms+orbitals+scaling-T3-le30,schnet-le30}/seed{0,1}/metrics.json"
stage "3: Table 1" "results/evals/augqm9/{mpnn_nobt,vimpnn-a.ii,mpnn_nobt-atoms,mpnn_nobt-orbitals,mpnn_nobt-scaling}-T3-first100/seed{0,1}/metrics.json"
stage "4: the rest of the learning curve (300 molecules, seed 1), tables, figures, report" report
echo "== wall time $(( $(date +%s) - start )) s"
bash docs/results/medium/collect.sh
