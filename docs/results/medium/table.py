"""Evaluate every finished run of the medium experiment that has no test metrics yet, then print one Markdown
row per run: training size, epochs, best validation MAE, test MAE (total and per atom), DSC and wall time.

    python docs/results/medium/table.py        # from the repository root, after (part of) run.sh
"""

import json
import subprocess
import sys
from pathlib import Path

rows = []
for summary in sorted(Path("results/runs").glob("*/*/seed*/train.json")):
    run = summary.parent
    rel = run.relative_to("results/runs")
    evals = Path("results/evals") / rel
    if not (evals / "metrics.json").exists():
        subprocess.run([Path(sys.executable).with_name("vimpnn"), "evaluate", "--run", run, "--data",
                        f"datasets/fast/{rel.parts[0]}.h5", "--split", "test", "--out", evals], check=True)
    t, m = json.loads(summary.read_text()), json.loads((evals / "metrics.json").read_text())
    dsc = f"{m['dsc']['mean']:.3g}" if m.get("dsc") else ""
    rows.append(f"| `{rel}` | {t['n_train']} | {t['epochs_run']} | {t['best_epoch']} | {t['best_val_mae']:.3g} | "
                f"{m['mae']['mean']:.3g} | {1000 * m['mae_per_atom']['mean']:.3g} | {dsc} | {t['wall_time_s']:.0f} |")
print("| run | training systems | epochs | best epoch | best val MAE (eV) | test MAE (eV) | test MAE (meV/atom) "
      "| DSC (Å) | training wall time (s) |")
print("|---|---|---|---|---|---|---|---|---|")
print("\n".join(rows))
