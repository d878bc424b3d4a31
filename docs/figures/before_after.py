"""Before/after figure of issue 12: the infcrystal energy curve near the minimum and Fig 7, as the ASE
calculator gives them, for a model trained with the code before the fix and one trained after it.

`scan` runs with whichever vimpnn is importable (the old checkout on PYTHONPATH, or this one) and writes
the curves to an .npz; `plot` draws two such files side by side.

    python docs/figures/before_after.py scan --infcrystal RUN/best.pt --growth RUN/best.pt --out after.npz
    python docs/figures/before_after.py plot --before before.npz --after after.npz --out docs/figures
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

RELEASE = Path(__file__).resolve().parents[2] / "datasets" / "release"
SCALES = np.linspace(0.95, 1.05, 401)  # lattice factor, steps of 2.5e-4
FACTORS = np.linspace(0.8, 1.5, 281)  # Fig 7's moving-atom factor, steps of 2.5e-3
A0 = {"Al": 4.05, "Cu": 3.61}  # the release's reference lattice constants (ASE reference states)


def scan(args: argparse.Namespace) -> None:
    from ase.build import bulk

    from vimpnn.calculator import VimpnnCalculator
    from vimpnn.plots import node_contributions, seed_plus_one

    out = {"scales": SCALES, "factors": FACTORS}
    calc = VimpnnCalculator(args.infcrystal)
    for element, a0 in A0.items():
        energies = []
        for s in SCALES:
            cell = bulk(element, "fcc", a=a0 * s)
            cell.calc = calc
            energies.append(cell.get_potential_energy())
        out[f"cell_{element}"] = np.array(energies)
    for atoms in seed_plus_one(RELEASE / "growth_unstable.h5"):
        name = atoms.get_chemical_formula()
        result = node_contributions(Path(args.growth), atoms, len(atoms) - 1, FACTORS)
        out[f"fig7_{name}_energies"], out[f"fig7_{name}_distance"] = result["energies"], result["distance"]
    np.savez(args.out, **out)


def plot(args: argparse.Namespace) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = {"before": np.load(args.before), "after": np.load(args.after)}
    out = Path(args.out)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for ax, element in zip(axes, A0):
        for label, style in (("before", "r-"), ("after", "b-")):
            d = data[label]
            e = d[f"cell_{element}"]
            ax.plot(d["scales"], (e - e.min()) * 1e3, style, lw=1, label=label)
        ax.set_title(f"{element} fcc cell (calculator, 1-atom cell)")
        ax.set_xlabel("lattice scaling s")
        ax.set_ylabel("E - min E (meV)")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(out / "infcrystal_before_after.png", dpi=90)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    names = sorted({k.split("_")[1] for k in data["after"].files if k.startswith("fig7_")})
    for ax, name in zip(axes, names):
        for label, style in (("before", "r-"), ("after", "b-")):
            d = data[label]
            e, x = d[f"fig7_{name}_energies"], d[f"fig7_{name}_distance"]
            on_site = int(np.argmin(np.abs(d["factors"] - 1.0)))
            ax.plot(x, e.sum(1) - e[on_site].sum(), style, lw=1, label=f"{label}: total")
            ax.plot(x, e[:, -1] - e[on_site, -1], style[0] + "--", lw=1, label=f"{label}: moving atom")
        ax.set_title(f"Fig 7, {name}: one atom moves away")
        ax.set_xlabel("distance of moving atom to nearest seed atom (Å)")
        ax.set_ylabel("Δ energy vs lattice site (eV)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "fig7_before_after.png", dpi=90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("scan")
    p.add_argument("--infcrystal", required=True, help="best.pt of a model trained on infcrystal")
    p.add_argument("--growth", required=True, help="best.pt of a model trained on growth_unstable")
    p.add_argument("--out", required=True)
    p = sub.add_parser("plot")
    p.add_argument("--before", required=True)
    p.add_argument("--after", required=True)
    p.add_argument("--out", required=True)
    args = parser.parse_args()
    if args.command == "scan":
        scan(args)
    else:
        plot(args)


if __name__ == "__main__":
    main()
