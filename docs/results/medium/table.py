"""Evaluate every finished run of the medium experiment that has no test metrics yet, then print one Markdown
row per run (training size, epochs, best validation MAE, test MAE in total and per atom, DSC, wall time) and
the summary tables of README.md: Table 2, the learning curve and Table 1, as the mean over seeds with each seed
in brackets (a run that has not finished is left out of its cell, and the cell says how many seeds it has).

    python docs/results/medium/table.py        # from the repository root, after (part of) run.sh
"""

import json
import statistics
import subprocess
import sys
from pathlib import Path

from vimpnn.experiments import GROUP_NOUN, Experiments, RunSpec, learning_curve_specs, table_rows
from vimpnn.plots import train_group_count
from vimpnn.validation import load_checked

rows, metrics = [], {}
for summary in sorted(Path("results/runs").glob("*/*/seed*/train.json")):
    run = summary.parent
    rel = run.relative_to("results/runs")
    evals = Path("results/evals") / rel
    if not (evals / "metrics.json").exists():
        subprocess.run([Path(sys.executable).with_name("vimpnn"), "evaluate", "--run", run, "--data",
                        f"datasets/fast/{rel.parts[0]}.h5", "--split", "test", "--out", evals], check=True)
    t, m = json.loads(summary.read_text()), json.loads((evals / "metrics.json").read_text())
    metrics.setdefault(str(rel.parent), []).append(m)
    dsc = f"{m['dsc']['mean']:.3g}" if m.get("dsc") else ""
    rows.append(f"| `{rel}` | {t['n_train']} | {t['epochs_run']} | {t['best_epoch']} | {t['best_val_mae']:.3g} | "
                f"{m['mae']['mean']:.3g} | {1000 * m['mae_per_atom']['mean']:.3g} | {dsc} | {t['wall_time_s']:.0f} |")
print("| run | training systems | epochs | best epoch | best val MAE (eV) | test MAE (eV) | test MAE (meV/atom) "
      "| DSC (Å) | training wall time (s) |")
print("|---|---|---|---|---|---|---|---|---|")
print("\n".join(rows))


def cell(spec: RunSpec, dsc: bool = False) -> str:
    """Mean test MAE (eV) over the seeds, each seed in brackets; with `dsc`, the mean DSC (Å) after it."""
    found = metrics.get(f"{spec.dataset}/{spec.tag}", [])
    if not found:
        return "not run"
    maes = [m["mae"]["mean"] for m in found]
    text = f"{statistics.mean(maes):.3f} ({', '.join(f'{x:.3f}' for x in maes)})"
    if len(found) < 2:
        text += ", 1 seed"
    if dsc and all(m.get("dsc") for m in found):
        text += f", DSC {statistics.mean(m['dsc']['mean'] for m in found):.4f}"
    return text


def mean_mae(spec: RunSpec) -> float | None:
    found = metrics.get(f"{spec.dataset}/{spec.tag}")
    return statistics.mean(m["mae"]["mean"] for m in found) if found else None


# the runs of each table come from the experiment design, as the workflow's own tables take them
exp = Experiments.from_config(load_checked("config/medium.yaml"))
table2 = {row.paper_key: row.spec for row in table_rows("table2", exp)}
print("\nTable 2\n\n| dataset | MPNN | VIMPNN | SchNet (schnetpack) |\n|---|---|---|---|")
for d in exp.datasets:
    print(f"| {d} | {' | '.join(cell(table2[(m, d)], True) for m in ('MPNN', 'VIMPNN', 'SchNet'))} |")

d = exp.learning_curve["dataset"]
full = train_group_count(Path(f"datasets/fast/{d}.h5"), exp.max_atoms.get(d))
sizes: dict[int, list[RunSpec]] = {}
for spec in learning_curve_specs(exp):  # MPNN, VIMPNN, SchNet at each size
    sizes.setdefault(spec.max_train_groups or full, []).append(spec)
print(f"\nLearning curve ({d})\n\n| training {GROUP_NOUN[d]} | MPNN | VIMPNN | SchNet | VIMPNN / SchNet |\n"
      "|---|---|---|---|---|")
for n, specs in sorted(sizes.items()):
    means = [mean_mae(s) for s in specs]
    ratio = f"{means[1] / means[2]:.2f}" if None not in means[1:] else ""
    print(f"| {n} | {' | '.join(cell(s) for s in specs)} | {ratio} |")

print(f"\nTable 1 ({d}, first {exp.table1_train_groups} training {GROUP_NOUN[d]})\n\n"
      "| row | test MAE (eV), DSC (Å) |\n|---|---|")
for row in table_rows("table1", exp):
    print(f"| {row.label} | {cell(row.spec, True)} |")
