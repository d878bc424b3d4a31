#!/usr/bin/env bash
# Copy the medium experiment's tables, figures and per-run metrics (not checkpoints) from results/ to here.
set -euo pipefail
cd "$(dirname "$0")/../../.."
out=docs/results/medium
mkdir -p "$out/tables" "$out/figures"
cp results/tables/*.md results/tables/*.csv "$out/tables/" 2>/dev/null || true
for f in results/figures/*.png; do [ -e "$f" ] && cp "$f" "$out/figures/"; done
python - "$out"/figures/*.png <<'PY'
"""Quantise the copied figures to 128 colours: a third of the bytes, for the repository."""
import sys
from PIL import Image

for path in sys.argv[1:]:
    Image.open(path).convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
PY
# the HTML report (results/report/report.html) embeds these figures again: rebuilt by run.sh, not copied
python - "$out/runs.csv" <<'PY'
"""One row per finished run: its training summary (with how far it had converged) beside its test metrics."""
import csv, json, sys
from pathlib import Path

rows = []
for train in sorted(Path("results/runs").glob("*/*/seed*/train.json")):
    run = train.parent.relative_to("results/runs")
    t = json.loads(train.read_text())
    m_path = Path("results/evals") / run / "metrics.json"
    m = json.loads(m_path.read_text()) if m_path.exists() else {}
    with open(train.parent / "log.csv") as fh:
        log = list(csv.DictReader(fh))
    val = [float(r["val_mae"]) for r in log]
    # how far the run had come: the share by which its last 5 epochs lowered the best validation MAE
    gain = 1 - min(val) / min(val[:-5]) if len(val) > 5 else float("nan")
    rows.append({"run": str(run), "model": t["model"], "n_train": t["n_train"], "epochs_run": t["epochs_run"],
                 "best_epoch": t["best_epoch"], "best_val_mae_eV": f"{t['best_val_mae']:.4g}",
                 "test_mae_eV": f"{m['mae']['mean']:.4g}" if m else "",
                 "test_mae_meV_per_atom": f"{1000 * m['mae_per_atom']['mean']:.4g}" if m else "",
                 "test_dsc": f"{m['dsc']['mean']:.3g}" if m and m.get("dsc") else "",
                 "stopped_early": t.get("stopped_early", ""), "final_lr": f"{float(log[-1]['lr']):.3g}",
                 "best_val_gain_last5_epochs": f"{gain:.3f}",
                 "wall_time_s": f"{t['wall_time_s']:.0f}", "device": t["device"]})
with open(sys.argv[1], "w", newline="") as fh:
    w = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["run"])
    w.writeheader()
    w.writerows(rows)
print(f"{len(rows)} runs -> {sys.argv[1]}")
PY
