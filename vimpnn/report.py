"""One self-contained HTML page: tables, figures (embedded), training runs, dataset summaries and provenance.

Everything is inlined (figures as base64 PNG), so the page can be mailed or archived as one file.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import json
from pathlib import Path

import numpy as np
import yaml

from vimpnn import __version__, paper
from vimpnn.experiments import Experiments, design, enabled_figures
from vimpnn.tables import fmt3

FIGURE_CAPTIONS = {
    "fig3": "Fig 3: energy vs isometric scaling for chosen test molecules (augqm9) and both elements' lattice scans "
            "(infcrystal): DFT reference vs MPNN vs VIMPNN (first seed). Dotted lines: each curve's minimum as DSC "
            "locates it.",
    "fig4": "Fig 4: test MAE per element (mean over seeds, error bars: std over seeds) for MPNN, VIMPNN and, on the "
            "growth datasets, VIMPNN without the atom-type auxiliary head.",
    "fig5": "Fig 5: energy vs scaling on growth_unstable, one panel per element: its smallest (solid) and largest "
            "(dashed) test cluster.",
    "fig6": "Fig 6: VIMPNN test MAE vs system size on growth_stable, trained on all sizes vs only on small systems "
            "(mean ± std over seeds).",
    "fig7": "Fig 7: one atom added to the 14-atom seed moves along the line through the seed's centroid; change of its "
            "node contribution, of the static atoms' contributions and of the total energy (VIMPNN trained on "
            "growth_unstable, calculator `energies`).",
    "training": "Training loss (left) and validation MAE (right) per epoch of every run: one colour per model, "
                "the same in every figure; one line style per seed.",
    "parity": "Predicted vs DFT energy per atom (top) and histogram of the total-energy error (bottom) on each "
              "dataset's test split, MPNN and VIMPNN (first seed); legends give the MAE and the per-atom MAE.",
    "learning_curve": "Learning curve: test MAE against the number of training molecules (each with all its "
                      "scalings), mean ± std over seeds; the largest size is the whole training split. Every run "
                      "is tested on the same full test split.",
}

STYLE = """body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:0.9em}td,th{border:1px solid #bbb;padding:3px 6px}
th{background:#eee}img{max-width:100%}pre{background:#f6f6f6;padding:0.5em;overflow-x:auto;font-size:0.85em}
.note{color:#555;font-size:0.9em}"""


def _table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def markdown_table_html(text: str) -> str:
    """The Markdown written by vimpnn.tables (a heading, one pipe table, a note) as HTML."""
    out, rows = [], []
    for line in text.splitlines():
        if line.startswith("|") and not set(line) <= set("|-"):
            rows.append([c.strip() for c in line.strip("|").split("|")])
        elif line.startswith("#"):
            out.append(f"<h3>{html.escape(line.lstrip('# '))}</h3>")
        elif line.strip() and not line.startswith("|"):
            out.append(f"<p class='note'>{html.escape(line)}</p>")
    if rows:
        out.insert(1, _table(rows[0], rows[1:]))
    return "\n".join(out)


def dataset_summary(name: str, path: Path) -> dict:
    """Counts, sizes, energy ranges, splits and provenance of one dataset file."""
    from vimpnn.data.hdf5 import read_dataset

    a = read_dataset(path)
    per_atom = a.energy / a.n_atoms
    return {
        "dataset": name,
        "file": str(path),
        "systems": len(a),
        "failed": len(a.failed),
        "atoms per system": f"{a.n_atoms.min()}–{a.n_atoms.max()}",
        "elements": " ".join(sorted({_symbol(z) for z in np.unique(a.numbers)})),
        "energy (eV)": f"{a.energy.min():.3f} … {a.energy.max():.3f}",
        "energy per atom (eV)": f"{per_atom.min():.3f} … {per_atom.max():.3f}",
        "scaling": f"{a.scale.min():.3f} … {a.scale.max():.3f}",
        "split train/val/test": "/".join(str(len(a.splits.get(k, []))) for k in ("train", "val", "test")),
        "attrs": a.attrs,
    }


def _symbol(z: int) -> str:
    from ase.data import chemical_symbols

    return chemical_symbols[int(z)]


def _provenance(summary: dict) -> str:
    attrs = summary["attrs"]
    keys = ("dft_backend", "code_version", "vimpnn_version", "git_commit", "created", "n_failed", "schema_version")
    rows = [[k, attrs[k]] for k in keys if k in attrs]
    details = {k: attrs[k] for k in ("dft_settings", "reference_energies", "config", "units") if k in attrs}
    return (f"<h3>{html.escape(summary['dataset'])}</h3>" + _table(["attribute", "value"], rows)
            + "".join(f"<details><summary>{html.escape(k)}</summary><pre>{html.escape(json.dumps(v, indent=2, default=str))}"
                      "</pre></details>" for k, v in details.items()))


EARLY_STOP_FRACTION = 0.05  # a run stopped within the first 5% of its epochs has barely trained


def suspicious(summary: dict, max_epochs: int | None) -> str:
    """Why a finished run looks untrained ('' when it does not): its best validation error came in the
    first epoch (the model got worse from there), or early stopping ended it within 5% of its epochs."""
    reasons = []
    if summary.get("best_epoch") == 1 and (summary.get("epochs_run") or 0) > 1:
        reasons.append("best epoch 1")
    run, stopped = summary.get("epochs_run") or 0, summary.get("stopped_early")
    if stopped and max_epochs and run < EARLY_STOP_FRACTION * max_epochs:
        reasons.append(f"stopped early at epoch {run} of {max_epochs}")
    return "; ".join(reasons)


def _runs_table(exp: Experiments, runs: Path) -> str:
    rows, total, flagged = [], 0.0, 0
    for run in design(exp):
        path = runs / run.path / "train.json"
        if not path.exists():
            continue
        s = json.loads(path.read_text())
        config = runs / run.path / "config.yaml"
        max_epochs = (yaml.safe_load(config.read_text()) or {}).get("epochs") if config.exists() else exp.epochs
        flag = suspicious(s, max_epochs)
        flagged += bool(flag)
        rows.append([run.path, s.get("epochs_run"), s.get("best_epoch"), _fmt(s.get("best_val_mae")), s.get("device"),
                     _fmt(s.get("wall_time_s")), ("⚠ " + flag) if flag else ""])
        total += float(s.get("wall_time_s") or 0.0)
    if not rows:
        return "<p>No finished training runs found.</p>"
    return (_table(["run", "epochs", "best epoch", "best val MAE (eV)", "device", "wall time (s)", "flag"], rows)
            + f"<p class='note'>{len(rows)} runs, {total:.0f} s of training in total"
            + (f"; {flagged} flagged as suspicious (best epoch 1, or early stop within "
               f"{EARLY_STOP_FRACTION:.0%} of the epochs): check their training curves" if flagged else "")
            + ".</p>")


def _fmt(x) -> str:
    return fmt3(float(x)) if isinstance(x, (int, float)) else ("" if x is None else str(x))


def _figure(path: Path, caption: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f"<figure><img src='data:image/png;base64,{data}' alt='{html.escape(path.stem)}'>" \
           f"<figcaption>{html.escape(caption)}</figcaption></figure>"


def build_report(exp: Experiments, tables: Path, figures: Path, runs: Path, data: dict[str, Path]) -> str:
    """The report page as one HTML string."""
    summaries = [dataset_summary(name, path) for name, path in data.items()]
    keys = [k for k in (summaries[0] if summaries else {}) if k != "attrs"]
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>vimpnn report</title>",
        f"<style>{STYLE}</style></head><body><h1>vimpnn: MPNN and VIMPNN on DFT data</h1>",
        f"<p class='note'>Generated {_dt.datetime.now(_dt.timezone.utc).isoformat(timespec='seconds')} by vimpnn "
        f"{__version__}. Seeds {exp.seeds}; epochs {exp.epochs or 'trainer default'}; datasets {', '.join(exp.datasets)}."
        " Published numbers are the paper's (their DFT level and data), shown beside ours for comparison only.</p>",
        "<h2>Datasets</h2>",
        _table(keys, [[s[k] for k in keys] for s in summaries]),
        "<h2>Tables</h2>",
    ]
    parts += [markdown_table_html((tables / f"{t}.md").read_text()) for t in exp.tables]
    parts.append("<h2>Figures</h2>")
    parts += [_figure(figures / f"{f}.png", FIGURE_CAPTIONS[f]) for f in enabled_figures(exp)]
    parts += ["<h2>Training runs</h2>", _runs_table(exp, runs), "<h2>DFT settings and provenance</h2>"]
    parts += [_provenance(s) for s in summaries]
    parts.append(f"<p class='note'>Paper numbers: {html.escape(paper.SOURCE)}.</p></body></html>")
    return "\n".join(parts)


def write_report(exp: Experiments, tables: Path, figures: Path, runs: Path, data: dict[str, Path], out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(build_report(exp, Path(tables), Path(figures), Path(runs), data))
    tmp.replace(out)
    return out
