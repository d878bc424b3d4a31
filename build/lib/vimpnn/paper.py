"""The paper's published numbers (Tables 1-5), copied verbatim from the paper for comparison.

These are THEIR results, at THEIR DFT level (CP2K settings not given in the paper), on their data:
they are shown beside ours, never mixed with ours. Each entry is metric -> (mean, std over the test
set) as printed, "mean (std)"; DSC is absent where the paper prints "-". Keys match
`vimpnn.experiments.Row.paper_key`.
"""

from __future__ import annotations

SOURCE = "VIMPNN paper (anonymous, under review), Tables 1-5; their DFT level and data, not ours"

Entry = dict[str, tuple[float, float]]


def _e(mae: tuple, mse: tuple, re: tuple, dsc: tuple | None = None) -> Entry:
    out = {"mae": mae, "mse": mse, "re": re}
    if dsc is not None:
        out["dsc"] = dsc
    return out


PUBLISHED: dict[str, dict[tuple[str, ...], Entry]] = {
    "table1": {
        ("no_bt",): _e((0.220, 1.169), (1.416, 17.913), (0.0027, 0.013)),
        ("mpnn",): _e((0.091, 0.476), (0.235, 6.679), (0.0012, 0.005)),
        ("a.ii",): _e((0.067, 0.141), (0.024, 0.406), (0.0009, 0.002)),
        ("n_atoms_per_type",): _e((0.171, 0.986), (1.002, 13.940), (0.0021, 0.011)),
        ("n_orbitals_per_type",): _e((0.195, 0.545), (0.335, 7.223), (0.0025, 0.006)),
        ("scaling_gaussian",): _e((0.119, 0.698), (0.501, 9.548), (0.0015, 0.008)),
    },
    "table2": {
        ("MPNN", "augqm9"): _e((0.091, 0.476), (0.235, 6.679), (0.0012, 0.005), (0.039, 0.056)),
        ("MPNN", "infcrystal"): _e((0.034, 0.032), (0.002, 0.005), (0.0012, 0.002), (0.201, 0.211)),
        ("MPNN", "growth_stable"): _e((2.906, 4.200), (26.069, 71.750), (0.0047, 0.005)),
        ("MPNN", "growth_unstable"): _e((3.447, 4.401), (31.231, 71.743), (0.0058, 0.006), (0.497, 0.499)),
        ("VIMPNN", "augqm9"): _e((0.065, 0.197), (0.043, 1.093), (0.0008, 0.002), (0.033, 0.047)),
        ("VIMPNN", "infcrystal"): _e((0.034, 0.044), (0.003, 0.009), (0.0015, 0.002), (0.048, 0.035)),
        ("VIMPNN", "growth_stable"): _e((0.513, 0.537), (0.552, 1.162), (0.0016, 0.002)),
        ("VIMPNN", "growth_unstable"): _e((2.387, 3.557), (18.336, 56.050), (0.0042, 0.004), (0.162, 0.237)),
    },
    "table3": {
        ("a.i",): _e((0.1214, 0.2952), (0.1019, 1.1220), (0.0016, 0.0036)),
        ("a.ii",): _e((0.0670, 0.1408), (0.0243, 0.4059), (0.0009, 0.0016)),
        ("b.i",): _e((0.1816, 0.5816), (0.3712, 3.8593), (0.0023, 0.0061)),
        ("b.ii",): _e((0.1079, 0.1206), (0.0223, 1.1093), (0.0012, 0.0015)),
        ("c",): _e((0.1144, 0.1418), (0.0332, 0.0920), (0.0015, 0.0019)),
    },
    "table4": {
        ("n_atoms_per_type",): _e((0.0690, 0.1921), (0.0409, 0.9880), (0.0009, 0.0021)),
        ("n_orbitals_per_type",): _e((0.0796, 0.1357), (0.0220, 0.4670), (0.0009, 0.0015)),
        ("scaling_gaussian",): _e((0.0742, 0.1450), (0.0265, 0.4647), (0.0010, 0.0017)),
    },
    "table5": {
        ("VIMPNN", "1"): _e((0.1860, 0.338), (0.1488, 1.341), (0.0026, 0.004)),
        ("VIMPNN", "3"): _e((0.0646, 0.197), (0.0430, 1.093), (0.0008, 0.002)),
        ("VIMPNN", "8"): _e((0.0944, 0.124), (0.0243, 0.067), (0.0013, 0.001)),
        ("MPNN", "1"): _e((0.1737, 0.298), (0.1191, 1.438), (0.0024, 0.003)),
        ("MPNN", "3"): _e((0.0909, 0.476), (0.2348, 6.679), (0.0012, 0.005)),
        ("MPNN", "8"): _e((0.5550, 0.352), (0.4321, 0.496), (0.0077, 0.005)),
    },
}

TITLES = {
    "table1": "Table 1: impact of each physics integration strategy (Augmented QM9)",
    "table2": "Table 2: MPNN and VIMPNN on all datasets (crystal growth restricted to 15-75 atoms)",
    "table3": "Table 3: bond-type channel implementations a.i-c (Augmented QM9)",
    "table4": "Table 4: auxiliary estimations with variant a.ii (Augmented QM9)",
    "table5": "Table 5: number of message-passing timesteps T (Augmented QM9)",
}
