"""The paper's Tables 1-5 from our evaluations: mean and spread over seeds, the paper's numbers beside.

Each cell of ours aggregates the test-set metrics of one run spec over the configured seeds:
the mean over seeds of the test-set mean, the mean over seeds of the test-set standard deviation
(the paper's "(std)"), and the standard deviation over seeds (sample std, 0 for one seed). The CSV holds
all three; the Markdown shows `mean ± std over seeds` in one format, 3 significant figures. DSC counts only
curves whose reference minimum is bracketed (vimpnn.metrics); with none, its cell is empty.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np

from vimpnn import paper
from vimpnn.errors import InputFormatError
from vimpnn.experiments import Experiments, Row, seeds_of, table_rows

METRICS = ("mae", "mae_per_atom", "mse", "re", "dsc")
UNITS = {"mae": "eV", "mae_per_atom": "eV/atom", "mse": "eV²", "re": "", "dsc": "Å"}
# Column names: RE is relative to atomization energies (docs/models.md), not to total energies.
HEADS = {"mae": "MAE", "mae_per_atom": "MAE/atom", "mse": "MSE", "re": "RE (atomization)", "dsc": "DSC"}


@dataclass
class Cell:
    """One metric of one row over seeds; NaN where not available."""

    mean: float = math.nan  # mean over seeds of the test-set mean
    test_std: float = math.nan  # mean over seeds of the test-set std
    seed_std: float = math.nan  # std over seeds of the test-set mean
    n_curves: int = 0  # DSC: curves with a bracketed reference minimum (per seed)
    excluded: int = 0  # DSC: curves without one


def table_metrics(table: str) -> tuple[str, ...]:
    """DSC is reported in Table 2 only (as in the paper)."""
    return METRICS if table == "table2" else METRICS[:4]


def read_metrics(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputFormatError(f"{path}: evaluation missing (run `snakemake evaluate` first)") from None
    except json.JSONDecodeError as exc:
        raise InputFormatError(f"{path}: not valid JSON ({exc})") from None
    for key in ("n", "mae", "mse", "re"):
        if key not in data:
            raise InputFormatError(f"{path}: field {key!r} missing")
    return data


def aggregate(metrics: list[dict]) -> dict[str, Cell]:
    """Combine the metrics.json of several seeds of one run spec."""
    out = {}
    for m in METRICS:
        vals = [d[m] for d in metrics if d.get(m)]
        if not vals:
            out[m] = Cell()
            continue
        means = np.array([v["mean"] for v in vals], dtype=float)
        stds = np.array([v["std"] for v in vals], dtype=float)
        out[m] = Cell(float(means.mean()), float(stds.mean()), float(means.std(ddof=1)) if len(means) > 1 else 0.0)
    out["dsc"].n_curves = max((int((d.get("dsc") or {}).get("n_curves", 0)) for d in metrics), default=0)
    out["dsc"].excluded = max((int(d.get("dsc_excluded") or 0) for d in metrics), default=0)
    return out


@dataclass
class TableRow:
    row: Row
    ran: bool  # False: dataset not enabled in experiments.datasets
    n_seeds: int
    n_test: int
    ours: dict[str, Cell]
    theirs: dict[str, tuple[float, float]]


def build_table(table: str, exp: Experiments, evals: Path) -> list[TableRow]:
    """Every row of `table` with our aggregates (read from `evals/<run path>/metrics.json`) and the paper's."""
    published = paper.PUBLISHED[table] if exp.published == "paper" else {}
    rows = []
    for row in table_rows(table, exp):
        ran = row.spec.dataset in exp.datasets
        data = [read_metrics(Path(evals) / r.path / "metrics.json") for r in seeds_of(row.spec, exp)] if ran else []
        rows.append(
            TableRow(row, ran, len(data), int(data[0]["n"]) if data else 0, aggregate(data), published.get(row.paper_key, {}))
        )
    return rows


def _num(x: float) -> str:
    return "" if math.isnan(x) else f"{x:.10g}"


def write_csv(rows: list[TableRow], table: str, path: Path) -> None:
    """Machine-readable table: one column per number, ours and paper's side by side (empty = not available)."""
    metrics = table_metrics(table)
    header = ["row", "dataset", "run", "n_seeds", "n_test"]
    for m in metrics:
        header += [f"{m}_mean", f"{m}_test_std", f"{m}_seed_std", f"paper_{m}_mean", f"paper_{m}_std"]
    if "dsc" in metrics:
        header += ["dsc_n_curves", "dsc_excluded"]
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for r in rows:
            line = [r.row.label, r.row.spec.dataset, r.row.spec.tag, r.n_seeds, r.n_test]
            for m in metrics:
                c = r.ours[m]
                theirs = r.theirs.get(m, (math.nan, math.nan))
                line += [_num(c.mean), _num(c.test_std), _num(c.seed_std), _num(theirs[0]), _num(theirs[1])]
            if "dsc" in metrics:
                line += [r.ours["dsc"].n_curves, r.ours["dsc"].excluded]
            w.writerow(line)


def fmt3(x: float) -> str:
    """3 significant figures, positional (0.00132, 6.68, 1320): every number of the tables in one format."""
    if math.isnan(x):
        return ""
    # Decimal keeps the rounded digits, trailing zeros included (numpy's positional format turns 0.0038 into
    # "0.0038" and 0.50999 into "0.51"), and writes large numbers without an exponent
    return format(Decimal(f"{x:.2e}"), "f")


def _ours(c: Cell, metric: str, n_seeds: int) -> str:
    """`mean ± std over seeds` (one seed: the mean); DSC adds its number of curves, or stays empty."""
    if metric == "dsc" and c.n_curves == 0:
        return ""
    if math.isnan(c.mean):
        return "–"
    text = fmt3(c.mean) + (f" ± {fmt3(c.seed_std)}" if n_seeds > 1 else "")
    return text + (f" ({c.n_curves} curve{'s' * (c.n_curves != 1)})" if metric == "dsc" else "")


def markdown(rows: list[TableRow], table: str, exp: Experiments) -> str:
    """Human-readable table: ours as `mean ± std over seeds`, the paper's as `mean (test-set std)`."""
    metrics = table_metrics(table)
    show_paper = exp.published == "paper"
    head = ["Row", "seeds", "n test"]
    for m in metrics:
        unit = f" [{UNITS[m]}]" if UNITS[m] else ""
        head += [f"{HEADS[m]}{unit} ours"] + ([f"{HEADS[m]} paper"] if show_paper and m != "mae_per_atom" else [])
    lines = [f"### {paper.TITLES[table]}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r.row.label, str(r.n_seeds) if r.ran else "not run", str(r.n_test) if r.ran else "–"]
        for m in metrics:
            cells.append(_ours(r.ours[m], m, r.n_seeds) if r.ran else "not run")
            if show_paper and m != "mae_per_atom":
                t = r.theirs.get(m)
                cells.append(f"{fmt3(t[0])} ({fmt3(t[1])})" if t else "–")
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "Ours: mean over seeds of the test-set mean ± std over seeds, 3 significant figures (test-set stds in the "
        "CSV). DSC over the curves whose reference minimum lies inside the scan, their number in brackets; "
        "empty where no curve has one. "
        + (f"Paper: mean (test-set std) as published — {paper.SOURCE}." if show_paper else "Paper numbers not shown."),
    ]
    return "\n".join(lines) + "\n"


def write_table(table: str, exp: Experiments, evals: Path, out_dir: Path) -> tuple[Path, Path]:
    """Write `<out_dir>/<table>.csv` and `.md`; returns both paths."""
    rows = build_table(table, exp, evals)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = out_dir / f"{table}.csv", out_dir / f"{table}.md"
    write_csv(rows, table, csv_path)
    md_path.write_text(markdown(rows, table, exp))
    return csv_path, md_path
