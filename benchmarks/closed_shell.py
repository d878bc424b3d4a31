"""Does a stretched, even-electron QM9 molecule prefer a broken-symmetry (UKS) solution over the closed-shell
(RKS) one that the CP2K `molecule` template computes? Measured with a second code, PySCF, on a sample.

Sample: the QM9 molecules with <= `--max-atoms` atoms among the first 1,000 shipped ones, every k-th of them
(`--molecules` in all, reproducible), each at the scalings `--scalings` (1.0 is the control).
Per structure: PBE/def2-SVP RKS (density-fitted Coulomb, pyscf grid level `--grid`); the lowest eigenvalue of
the RKS -> UKS stability Hessian (pyscf's RHF/RKS -> UHF/UKS response, one Davidson root). Negative (below
pyscf's -1e-5 threshold): the RKS solution is a saddle point in UKS space; the RKS orbitals are then rotated
along the unstable mode (alpha +lambda, beta -lambda), the lowest of a short lambda scan starts a UKS SCF,
and E(UKS) is the lower of the scan's best point and the converged UKS energy (both are energies of
UKS determinants, so E(RKS) - E(UKS) is what the broken-symmetry solution gains at least). Non-negative:
RKS is a local minimum in UKS space, E(RKS) - E(UKS) = 0 there (a distant UKS minimum is not searched for).

    .venv/bin/pip install pyscf      # not a vimpnn dependency: only this benchmark uses it (measured with 2.14.0)
    OMP_NUM_THREADS=1 nice -n 5 .venv/bin/python benchmarks/closed_shell.py --jobs 2 --out closed_shell.jsonl

Prints one row per structure (E(RKS) - E(UKS) in meV/atom, <S^2> of the UKS solution, the stability
eigenvalue) and a summary per scaling (`--rows A.jsonl B.jsonl` prints them again from saved runs): how many
structures the UKS solution is lower for by > 1 meV/atom, and the largest difference. See docs/dft.md ("Closed shell at 1.5x: measured").
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time

import numpy as np
from ase.units import Hartree

from vimpnn.structures.qm9 import open_qm9
from vimpnn.structures.scaling import scaled

UNSTABLE = -1e-5  # Hartree: pyscf's own threshold for calling a stability eigenvalue negative
LAMBDAS = (0.05, 0.1, 0.2, 0.3)  # rotation sizes scanned along the unstable mode
THRESHOLD_MEV = 1.0  # meV/atom: "matters"


def sample(n_molecules: int, max_atoms: int, first: int = 1000) -> list:
    """Every k-th of the first `first` shipped QM9 molecules that have at most `max_atoms` atoms."""
    small = [r for r in open_qm9({"source": "shipped"}, first) if len(r.symbols) <= max_atoms]
    return small[:: max(1, len(small) // n_molecules)][:n_molecules]


def measure(task: tuple) -> dict:
    """RKS, its RKS -> UKS stability, and (if unstable) the UKS solution along the unstable mode."""
    from pyscf import dft, gto, lib
    from pyscf.scf import stability

    record, s, basis, grid = task
    atoms = scaled(record.to_atoms(), s)
    start = time.process_time()
    mol = gto.M(atom=list(zip(atoms.get_chemical_symbols(), atoms.positions)), basis=basis, verbose=0)

    def kohn_sham(kind):
        mf = kind(mol, xc="pbe").density_fit()
        mf.grids.level, mf.conv_tol, mf.max_cycle = grid, 1e-8, 100
        return mf

    rks = kohn_sham(dft.RKS)
    e_rks = rks.kernel()
    # Lowest eigenvalue of the RKS -> UKS orbital Hessian (pyscf.scf.stability.rhf_external's second part,
    # without its real -> complex part and with one root: the cost of about one SCF).
    _, _, hop, hdiag = stability._gen_hop_rhf_external(rks)
    x0 = np.zeros_like(hdiag)
    x0[np.argmin(hdiag)] = 1.0
    eig, mode = lib.davidson(hop, x0, lambda dx, e, _: dx / np.where(abs(hdiag - e) < 1e-8, 1e-8, hdiag - e),
                             tol=1e-6, nroots=1)
    row = {"index": record.index, "smiles": record.smiles, "n_atoms": len(atoms), "scale": s,
           "e_rks_ha": e_rks, "rks_converged": bool(rks.converged), "stability_eig_ha": float(eig),
           "unstable": bool(eig < UNSTABLE), "e_uks_ha": e_rks, "s2": 0.0, "uks_converged": None}
    if row["unstable"]:
        uks = kohn_sham(dft.UKS)
        occ = (rks.mo_occ > 0).astype(float)

        def dm(lam):
            return uks.make_rdm1((stability._rotate_mo(rks.mo_coeff, rks.mo_occ, lam * mode),
                                  stability._rotate_mo(rks.mo_coeff, rks.mo_occ, -lam * mode)), (occ, occ))

        scan = {lam: uks.energy_tot(dm(lam)) for lam in LAMBDAS}
        best = min(scan, key=scan.get)
        e_scf = uks.kernel(dm0=dm(best))
        row.update(scan_best_lambda=best, e_scan_ha=scan[best], e_uks_scf_ha=e_scf,
                   uks_converged=bool(uks.converged))
        if uks.converged and e_scf <= scan[best]:
            row.update(e_uks_ha=e_scf, s2=float(uks.spin_square()[0]))
        else:  # the SCF went back uphill (to the RKS saddle) or did not converge: keep the scan's determinant
            uks.mo_coeff, uks.mo_occ = (stability._rotate_mo(rks.mo_coeff, rks.mo_occ, best * mode),
                                        stability._rotate_mo(rks.mo_coeff, rks.mo_occ, -best * mode)), (occ, occ)
            row.update(e_uks_ha=scan[best], s2=float(uks.spin_square()[0]))
    row["gain_mev_per_atom"] = (e_rks - row["e_uks_ha"]) * Hartree * 1e3 / len(atoms)
    row["cpu_s"] = time.process_time() - start
    return row


def line(row: dict) -> str:
    """One structure's row of the table."""
    return (f"{row['index']:>5} {row['smiles']:<16} {row['n_atoms']:>2} x{row['scale']:.2f}  "
            f"RKS-UKS {row['gain_mev_per_atom']:8.4f} meV/atom  <S^2> {row['s2']:.3f}  "
            f"stability eig {row['stability_eig_ha']:+.5f} Ha  {'unstable' if row['unstable'] else 'stable'}"
            f"  ({row['cpu_s']:.0f} s CPU)" + last_iterate(row))


def last_iterate(row: dict) -> str:
    """Unconverged SCFs: an RKS one overstates the gain; an unconverged UKS SCF's last energy is that of a
    determinant too, so how far below RKS it had got is a gain as well."""
    note = "" if row["rks_converged"] else "  [RKS SCF not converged: E(RKS) is its last iterate, an upper bound]"
    if row.get("uks_converged") is not False:
        return note
    gain = (row["e_rks_ha"] - row["e_uks_scf_ha"]) * Hartree * 1e3 / row["n_atoms"]
    return note + f"  [UKS SCF not converged; its last iterate {gain:.1f} meV/atom below RKS]"


def summary(rows: list[dict]) -> None:
    """Per scaling: unstable count, count above THRESHOLD_MEV, the largest gain; total worker CPU time."""
    for s in sorted({r["scale"] for r in rows}, reverse=True):
        sel = [r for r in rows if r["scale"] == s]
        worst = max(sel, key=lambda r: r["gain_mev_per_atom"])
        print(f"x{s:.2f}: {sum(r['unstable'] for r in sel)}/{len(sel)} RKS unstable towards UKS, "
              f"{sum(r['gain_mev_per_atom'] > THRESHOLD_MEV for r in sel)}/{len(sel)} with UKS lower by "
              f"> {THRESHOLD_MEV} meV/atom; largest {worst['gain_mev_per_atom']:.3f} meV/atom "
              f"(index {worst['index']}, <S^2> {worst['s2']:.3f}); RKS not converged in "
              f"{sum(not r['rks_converged'] for r in sel)}")
    print(f"CPU: {sum(r['cpu_s'] for r in rows) / 60:.1f} min in the workers")


def main() -> None:
    import pyscf

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--molecules", type=int, default=12)
    p.add_argument("--max-atoms", type=int, default=12)
    p.add_argument("--scalings", default="1.5,1.3,1.0")
    p.add_argument("--basis", default="def2-svp")
    p.add_argument("--grid", type=int, default=1, help="pyscf grids.level (the same for RKS and UKS)")
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--out", help="JSON lines, one per structure, written as they finish")
    p.add_argument("--rows", nargs="+", help="only print the table and summary of these --out files")
    args = p.parse_args()
    if args.rows:
        rows = [json.loads(x) for path in args.rows for x in open(path)]
        rows.sort(key=lambda r: (-r["scale"], r["index"]))
        print("\n".join(line(r) for r in rows))
        summary(rows)
        return
    scalings = [float(x) for x in args.scalings.split(",")]
    tasks = [(r, s, args.basis, args.grid) for s in scalings for r in sample(args.molecules, args.max_atoms)]
    print(f"pyscf {pyscf.__version__}, PBE/{args.basis}, density-fitted J, grid level {args.grid}; "
          f"{len(tasks)} structures")
    rows = []
    out = open(args.out, "w") if args.out else None
    with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
        for row in pool.imap_unordered(measure, tasks):
            rows.append(row)
            if out:
                out.write(json.dumps(row) + "\n")
                out.flush()
            print(line(row), flush=True)
    summary(rows)


if __name__ == "__main__":
    main()
