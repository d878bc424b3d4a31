"""`vimpnn plan --dft`: the power-law cost model, the stratified sample, the chunking and the command end to end."""

import json
import re

import numpy as np
import pytest
import yaml

from tests import fake_cp2k
from vimpnn.cli.main import main
from vimpnn.dft import cost
from vimpnn.structures.datasets import build

TINY = {"datasets": ["augqm9", "infcrystal", "growth_stable"], "qm9": {"n_molecules": 6},
        "augqm9": {"scalings": {"n": 3}}, "infcrystal": {"scalings": {"n": 5}},
        "growth": {"max_size": 20, "stable": {"n_seeds": 1}},
        "workflow": {"chunk_size": {"augqm9": 4, "infcrystal": 4, "growth_stable": 3}, "dft_threads": 2}}
# dataset, template, element, sampled, N range, a, exponents, spread, sampled min/med/max, structures, N range,
# core-h, range
ROW = re.compile(r"^(augqm9|infcrystal|growth_stable|growth_unstable)\s+(molecule|bulk_metal|metal_cluster)"
                 r"(?: (\w+))?\s+(\d+)\s+(\d+)-(\d+)\s+(\S+)((?: [NV]\^\S+)*) ±(\d+)%\s+"
                 r"(\S+) / (\S+) / (\S+)\s+([\d,]+)\s+(\d+)-(\d+)\s+(\S+)\s+(\S+)$", re.M)


def _config(tmp_path, **changes) -> str:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({**TINY, **changes}))
    return str(path)


def test_power_law_fit_recovers_known_exponents():
    n = np.array([5, 9, 14, 20, 29, 45, 80, 114])
    exact = cost.fit({"N": n}, 0.7 * n**2.6)
    assert exact.a == pytest.approx(0.7) and exact.exponents["N"] == pytest.approx(2.6)
    assert exact.spread == pytest.approx(0, abs=1e-9)
    noise = np.exp(np.random.default_rng(0).normal(0, 0.1, len(n)))  # 10% scatter, as SCF step counts give
    noisy = cost.fit({"N": n}, 0.7 * n**2.6 * noise)
    assert noisy.exponents["N"] == pytest.approx(2.6, abs=0.1) and 0.05 < noisy.spread < 0.2
    assert cost.estimate(noisy, {"N": n}) == pytest.approx(np.sum(0.7 * n**2.6 * noise))  # the sample's own total
    # a second covariate (the box volume, not a function of N here): both exponents, and N alone misses
    v = np.array([900, 4000, 1500, 3000, 2000, 8000, 5000, 6000])
    both = cost.fit({"N": n, "V": v}, 0.01 * n**1.5 * v)
    assert both.exponents == pytest.approx({"N": 1.5, "V": 1.0}) and both.a == pytest.approx(0.01)
    assert cost.fit({"N": n}, 0.01 * n**1.5 * v).spread > 0.3


def test_small_samples_keep_a_residual_and_constant_covariates_are_flat():
    flat = cost.fit({"N": [15, 15]}, [100.0, 400.0])
    assert flat.exponents["N"] == 0 and flat.a == pytest.approx(250.0)  # the mean: 2 such structures take 500 s
    assumed = cost.fit({"N": [15, 15]}, [100.0, 400.0], {"N": 2})
    assert assumed({"N": [15, 30]}) == pytest.approx([250.0, 1000.0])
    # three structures: a and one exponent (N first), one degree of freedom left for the spread
    three = cost.fit({"N": [3, 6, 12], "V": [1000, 800, 3000]}, [10.0, 30.0, 100.0])
    assert three.exponents["V"] == 0 and three.exponents["N"] > 0 and three.spread > 0
    # a one-atom cell: N is constant, the volume carries the fit
    cells = cost.fit({"N": [1, 1, 1, 1], "V": [10.0, 12.0, 14.0, 16.0]}, [50.0 / x for x in (10, 12, 14, 16)])
    assert cells.exponents == pytest.approx({"N": 0, "V": -1})
    with pytest.raises(ValueError):
        cost.fit({"N": [3]}, [0.0])


def test_estimate_is_the_sum_over_the_real_structures():
    law = cost.CostLaw(a=2.0, exponents={"N": 1.5, "V": 0.0}, spread=0.0)
    sizes = [4, 4, 9, 16]  # 2 x (8 + 8 + 27 + 64)
    assert cost.estimate(law, {"N": sizes, "V": [1, 2, 3, 4]}) == pytest.approx(214.0)


def test_held_out_predicts_the_odd_structures_from_the_even_ones():
    n = [12, 3, 9, 6]  # any order: sorted by size, 3 and 9 fit, 6 and 12 are predicted
    assert cost.held_out({"N": n}, [2 * x**2 for x in n]) == pytest.approx((360.0, 360.0))
    # even (3, 9) at 18 and 162 s: b = 2, a = 2, predicting 72 + 288 = 360 s; the odd ones measured at 2x the law
    assert cost.held_out({"N": n}, [576, 18, 162, 144]) == pytest.approx((360.0, 720.0))
    assert cost.held_out({"N": [5]}, [1.0]) is None


def test_stratified_sample_spans_the_sizes_and_the_scalings():
    structures = build("augqm9", {"qm9": {"n_molecules": 40}, "augqm9": {"scalings": {"n": 10}}})
    n = np.array([len(a) for a in structures])
    scales = [a.info["scale"] for a in structures]
    picks = cost.stratified_sample(n, scales, 8)
    assert len(set(picks)) == 8
    assert n[picks].min() == n.min() and n[picks].max() == n.max()
    assert len({scales[i] for i in picks}) >= 6
    assert sorted(cost.stratified_sample(n[:3], scales[:3], 8)) == [0, 1, 2]  # fewer structures than asked: all


def test_stratified_sample_takes_the_metals_in_turn_over_the_sizes():
    """Growths ordered metal by metal: without kinds the first half of the picks (the small sizes) would all be
    Al; with them each metal spans the sizes, so each metal's own fit sees both ends."""
    structures = build("growth_stable", {"growth": {"max_size": 30, "stable": {"n_seeds": 3}}})
    n = np.array([len(a) for a in structures])
    metal = [a.get_chemical_symbols()[0] for a in structures]
    picks = cost.stratified_sample(n, [1.0] * len(n), 8, metal)
    for m in ("Al", "Cu"):
        mine = sorted(n[i] for i in picks if metal[i] == m)
        assert len(mine) == 4 and mine[0] <= 17 and mine[-1] >= 28


def test_chunk_size_keeps_the_longest_chunk_under_the_target():
    times = np.ones(10)  # 2 slots: a chunk of c takes c/2 + 1/2 s
    assert cost.chunk_walls(times, 4, 2).tolist() == [2.5, 2.5, 1.5]
    assert cost.suggest_chunk_size(times, 2, 3.0, 1.0) == 5
    assert cost.suggest_chunk_size(times, 2, 4.5, 1.5) == 5  # 1.5 x 3.0
    assert cost.suggest_chunk_size(np.array([1.0, 50.0, 1.0]), 1, 10.0, 1.0) == 1  # one structure is too long already
    assert cost.suggest_chunk_size(times, 2, 100.0, 1.0) == 10


def test_chunks_of_restart_curves_keep_whole_curves_and_schedule_curves():
    """Curves of 3 structures of 1 s run as chains: 2 slots, chunks of 6 (two curves) take 6/2 + 3/2 = 4.5 s;
    chunks of 4 cut curves, whose pieces run as chains."""
    times = np.ones(12)
    assert cost.chunk_walls(times, 6, 2, curve=3).tolist() == [4.5, 4.5]
    assert cost.chunk_walls(times, 4, 2, curve=3).tolist() == [3.5, 3.0, 3.5]  # pieces 3+1, 2+2, 1+3
    assert cost.suggest_chunk_size(times, 2, 4.5, 1.0, curve=3) == 6
    assert cost.suggest_chunk_size(times, 2, 4.4, 1.0, curve=3) == 3  # one curve when nothing larger fits
    assert cost.suggest_chunk_size(times, 2, 4.5, 1.0) == 8  # single structures: 8/2 + 1/2


def test_plan_dft_runs_with_the_fake_cp2k_and_prints_every_dataset(tmp_path, capsys, monkeypatch):
    for k, v in fake_cp2k.environment(tmp_path / "bin", "ok", tmp_path / "calls.log").items():
        monkeypatch.setenv(k, v)
    assert main(["plan", "--dft", _config(tmp_path), "--dft-sample", "3", "infcrystal=2",
                 "--dft-times", str(tmp_path / "t.json")]) == 0
    out = capsys.readouterr().out
    rows = {m[0]: m for m in ROW.findall(out)}
    # the sampled molecule at s > 0.9 starts from its neighbour's wavefunction (run first), as in the workflow
    assert "(4 atoms): " in out and "from restart:augqm9-000004-s00" in out
    assert set(rows) == set(TINY["datasets"]) and fake_cp2k.calls(tmp_path / "calls.log") == 3 + 1 + 2 + 3
    assert rows["infcrystal"][1] == "bulk_metal" and rows["infcrystal"][3] == "2"
    assert [rows[d][12] for d in TINY["datasets"]] == ["18", "10", "12"]  # structures of the config
    assert "backend cp2k" in out and "CPU seconds" in out and "held-out check" in out
    assert "workflow.dft_runtime_min" in out
    saved = json.loads((tmp_path / "t.json").read_text())
    assert all(t > 0 for g in saved for t in g["seconds"]) and not any(g["failed"] for g in saved)


def _exponents(terms: str) -> dict[str, float]:
    """{"V": c, "N": b} of a printed law's terms (" V^0.00 N^2.00"; a zero exponent is not printed)."""
    found = {k: float(b) for k, b in re.findall(r"([NV])\^(\S+)", terms)}
    return {"V": found.get("V", 0.0), "N": found.get("N", 0.0)}


def _known_times(tmp_path, picks: list[int], seconds) -> str:
    """A --dft-times file for TINY's growth_stable (one growth per element, sizes 15..20) with these timings."""
    structures = build("growth_stable", TINY)
    (tmp_path / "t.json").write_text(json.dumps([{
        "dataset": "growth_stable", "template": "metal_cluster", "sample_index": picks, "failed": 0,
        "sample_n": [len(structures[i]) for i in picks], "seconds": [seconds(structures[i]) for i in picks]}]))
    return str(tmp_path / "t.json")


def test_plan_dft_from_known_times_gives_the_known_estimate_and_chunks(tmp_path, capsys):
    """Timings following t = 3 N^2 s exactly: core-hours = sum of 3 N^2 over the dataset, held-out error 0."""
    config = {**TINY, "datasets": ["growth_stable"], "workflow": {"chunk_size": {"growth_stable": 2}, "dft_threads": 1}}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    # growth_stable, one growth per element, sizes 15..20: 2 x 3 x (225 + 256 + 289 + 324 + 361 + 400) = 11,130 s
    times = _known_times(tmp_path, [0, 2, 5, 11], lambda a: 3.0 * len(a) ** 2)  # Al15, 17, 20, Cu20: one law
    assert main(["plan", "--dft", str(path), "--dft-from", times,
                 "--target-job-hours", str(2300 / 3600), "--margin", "1"]) == 0
    out = capsys.readouterr().out
    row = ROW.findall(out)[0]
    assert _exponents(row[7]) == pytest.approx({"V": 0.0, "N": 2.0}, abs=1e-6)  # four structures: V and N fitted
    assert float(row[15]) == pytest.approx(11130 / 3600, abs=0.005)
    assert re.search(r"^metal_cluster \(growth_stable\)\s+predicted", out, re.M)
    # one structure at a time, chunks of consecutive sizes per growth: chunks of 2 take at most 3 x (19² + 20²) =
    # 2,283 s <= 2,300; chunks of 3 take 3 x (15² + 16² + 17²) = 2,310 s: chunk size 2, 6 chunks, 0.63 h, 39 min
    assert re.search(r"^growth_stable\s+2\s+6\s+0\.63\s+39\s+chunk_size 2: longest chunk 0\.63 h$", out, re.M)


def test_plan_dft_fits_each_metal_apart_when_both_are_sampled(tmp_path, capsys):
    """Cu at 4x the time of Al of the same size: one law per element gives the exact total (1 + 4) x 5,565 s; one
    law for both would not."""
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({**TINY, "datasets": ["growth_stable"]}))
    factor = {"Al": 3.0, "Cu": 12.0}
    times = _known_times(tmp_path, [0, 2, 3, 5, 6, 8, 9, 11],
                         lambda a: factor[a.get_chemical_symbols()[0]] * len(a) ** 2)
    assert main(["plan", "--dft", str(path), "--dft-from", times]) == 0
    rows = {m[2]: m for m in ROW.findall(capsys.readouterr().out)}
    assert set(rows) == {"Al", "Cu"} and all(r[3] == "4" for r in rows.values())
    assert float(rows["Al"][15]) == pytest.approx(5565 / 3600, abs=0.005)
    assert float(rows["Cu"][15]) == pytest.approx(4 * 5565 / 3600, abs=0.005)


@pytest.mark.parametrize("argv, message", [
    (["--dft", "missing.yaml"], "missing.yaml"),
    (["--dft-sample", "foo=3"], "'foo' is not a dataset of the config"),
    (["--dft-sample", "0"], "--dft-sample 0: must be at least 1"),
    (["--dft-max-atoms", "augqm9=x"], "expected N or DATASET=N"),
    (["--target-job-hours", "0"], "--target-job-hours 0: must be positive"),
    (["--dft-from", "nothere.json"], "--dft-from nothere.json"),
    (["--dft-from", "bad.json"], "not a --dft-times file"),
])
def test_plan_dft_bad_input_is_one_line(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.json").write_text(json.dumps([{"dataset": "augqm9", "template": "molecule", "sample_n": [3, 5],
                                                    "seconds": [1.0, -2.0], "failed": 0, "sample_index": [0, 1]}]))
    config = _config(tmp_path)
    args = ["plan", "--dft", config, *argv] if argv[0] != "--dft" else ["plan", *argv]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def test_plan_needs_a_config_or_dft(capsys):
    assert main(["plan"]) == 2
    assert "--dft CONFIG" in capsys.readouterr().err


def test_growth_datasets_share_one_law_per_metal_through_the_box_volume(tmp_path, capsys):
    """t = 1e-3 N^1.2 V^0.9 exactly: 3 stable and 2 unstable Al clusters (boxes 1.5x larger) fit one law together,
    which gives each dataset's exact total; 2 unstable structures alone could not separate N from V."""
    from vimpnn.cli import plan_dft

    config = {**TINY, "datasets": ["growth_stable", "growth_unstable"],
              "growth": {"elements": ["Al"], "max_size": 20, "stable": {"n_seeds": 1},
                         "unstable": {"n_seeds": 1, "scalings": {"n": 3}}}}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    picks = {"growth_stable": [0, 2, 5], "growth_unstable": [1, 9]}
    timings = {(d, "metal_cluster"): {"sample_index": p, "failed": 0, "seconds": [1.0] * len(p),
                                      "sample_n": [len(build(d, config)[i]) for i in p]} for d, p in picks.items()}
    law = cost.CostLaw(1e-3, {"N": 1.2, "V": 0.9}, 0.0)
    rows, exact = [], {}
    for g in plan_dft.measure(config, {}, dict.fromkeys(picks), earlier=timings):  # the covariates of the plan
        rows.append({**timings[(g.dataset, g.template)], "dataset": g.dataset, "template": g.template,
                     "seconds": law(g.covariates(g.sample_rows)).tolist()})
        exact[g.dataset] = cost.estimate(law, g.covariates()) / 3600
    (tmp_path / "t.json").write_text(json.dumps(rows))
    assert main(["plan", "--dft", str(path), "--dft-from", str(tmp_path / "t.json")]) == 0
    out = capsys.readouterr().out
    found = {m[0]: float(m[15]) for m in ROW.findall(out)}
    assert found == pytest.approx(exact, rel=5e-3) and found["growth_unstable"] > 1.5 * found["growth_stable"]
    assert re.search(r"^metal_cluster Al \(growth_stable, growth_unstable\)\s+predicted", out, re.M)  # one check


def test_timings_carry_the_boxes_they_were_timed_in(tmp_path, capsys):
    """t = 1e-3 V exactly, timed in boxes twice the volume the config gives now (another vacuum): the law is fitted
    on the timed volumes and summed over today's, so the estimate is half what the timings alone suggest."""
    from vimpnn.cli import plan_dft

    config = {**TINY, "datasets": ["growth_stable"]}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    picks = [0, 2, 5, 11]
    timings = {("growth_stable", "metal_cluster"): {
        "sample_index": picks, "failed": 0, "seconds": [1.0] * 4,
        "sample_n": [len(build("growth_stable", config)[i]) for i in picks]}}
    (g,) = plan_dft.measure(config, {}, {"growth_stable": None}, earlier=timings)
    volume = 2 * g.volume[g.sample_rows]
    row = {**timings[("growth_stable", "metal_cluster")], "dataset": "growth_stable", "template": "metal_cluster",
           "sample_volume": volume.tolist(), "seconds": (1e-3 * volume).tolist()}
    (tmp_path / "t.json").write_text(json.dumps([row]))
    assert main(["plan", "--dft", str(path), "--dft-from", str(tmp_path / "t.json")]) == 0
    row = ROW.findall(capsys.readouterr().out)[0]
    assert _exponents(row[7]) == pytest.approx({"V": 1.0, "N": 0.0}, abs=1e-6)
    assert float(row[15]) == pytest.approx(1e-3 * g.volume.sum() / 3600, rel=5e-3)


def test_the_scf_start_is_a_covariate_and_a_collinear_atom_count_gets_no_exponent():
    """Molecules of one curve restart from their neighbour (G = 1), the first from atoms (G = 2): the fit
    recovers what a start from atoms costs. N that nearly repeats V (small molecules: the box grows with the
    atoms) is left out by the BIC instead of taking an exponent the noise decides (the sample of
    docs/results/plan-dft gave V^4.19 N^-2.83 without it)."""
    rng = np.random.default_rng(1)
    v = np.array([1000.0, 1331, 2197, 2744, 3724, 4492, 4096, 5359, 1800, 3100])
    g = np.array([cost.ATOMIC, cost.RESTART, cost.RESTART, cost.RESTART, cost.RESTART, cost.ATOMIC, cost.RESTART,
                  cost.RESTART, cost.ATOMIC, cost.RESTART])
    n = np.round(v ** (1 / 3) * 1.6 * np.exp(rng.normal(0, 0.05, len(v))))  # N follows the box
    t = 1e-3 * v**1.4 * g**0.8 * np.exp(rng.normal(0, 0.05, len(v)))
    law = cost.fit({"V": v, "G": g, "N": n}, t)
    assert law.exponents["N"] == 0
    assert law.exponents["V"] == pytest.approx(1.4, abs=0.1) and law.exponents["G"] == pytest.approx(0.8, abs=0.15)
    # where N is a cost of its own (not a function of V), it keeps its exponent
    n_free = np.array([3, 5, 7, 9, 12, 14, 16, 18, 25, 4])
    both = cost.fit({"V": v, "G": g, "N": n_free}, 1e-3 * v**1.4 * g**0.8 * n_free**0.5)
    assert both.exponents == pytest.approx({"V": 1.4, "G": 0.8, "N": 0.5})
