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


def cell(run: str, dsc: bool = False) -> str:
    """Mean test MAE (eV) over the seeds, each seed in brackets; with `dsc`, the mean DSC (Å) after it."""
    found = metrics.get(run, [])
    if not found:
        return "not run"
    maes = [m["mae"]["mean"] for m in found]
    text = f"{statistics.mean(maes):.3f} ({', '.join(f'{x:.3f}' for x in maes)})"
    if len(found) < 2:
        text += ", 1 seed"
    if dsc and all(m.get("dsc") for m in found):
        text += f", DSC {statistics.mean(m['dsc']['mean'] for m in found):.4f}"
    return text


VIMPNN, SUFFIX = "vimpnn-a.ii-atoms+orbitals+scaling-T3", {"growth_stable": "-le30", "growth_unstable": "-le30"}
print("\nTable 2\n\n| dataset | MPNN | VIMPNN | SchNet (schnetpack) |\n|---|---|---|---|")
for d in ("augqm9", "infcrystal", "growth_stable", "growth_unstable"):
    s = SUFFIX.get(d, "")
    print(f"| {d} | {cell(f'{d}/mpnn-T3{s}', True)} | {cell(f'{d}/{VIMPNN}{s}', True)} | "
          f"{cell(f'{d}/schnet{s}', True)} |")
print("\nLearning curve (AugQM9)\n\n| training molecules | MPNN | VIMPNN | SchNet | VIMPNN / SchNet |\n|---|---|---|---|---|")
for n, s in (("100", "-first100"), ("300", "-first300"), ("800", "")):
    runs = [f"augqm9/{m}{s}" for m in ("mpnn-T3", VIMPNN, "schnet")]
    means = [statistics.mean(m["mae"]["mean"] for m in metrics[r]) if r in metrics else None for r in runs]
    ratio = f"{means[1] / means[2]:.2f}" if None not in means[1:] else ""
    print(f"| {n} | {' | '.join(cell(r) for r in runs)} | {ratio} |")
print("\nTable 1 (AugQM9, first 100 training molecules)\n\n| row | test MAE (eV), DSC (Å) |\n|---|---|")
for label, tag in (("No bond type (BT) information", "mpnn_nobt-T3"), ("MPNN (BT in edge features)", "mpnn-T3"),
                   ("BT-specialised node updates (a.ii)", "vimpnn-a.ii-T3"),
                   ("no BT + aux: atoms per type", "mpnn_nobt-atoms-T3"),
                   ("no BT + aux: orbitals per type", "mpnn_nobt-orbitals-T3"),
                   ("no BT + aux: scaling Gaussian", "mpnn_nobt-scaling-T3")):
    print(f"| {label} | {cell(f'augqm9/{tag}-first100', True)} |")
