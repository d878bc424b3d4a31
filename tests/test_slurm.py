"""The workflow on a real single-node SLURM cluster (tests/slurm/start-cluster.sh), through the real
snakemake-executor-plugin-slurm with profiles/slurm: every rule job is an sbatch job.

`make test-slurm` installs Debian's SLURM, munge and MariaDB packages and runs these tests (as root); the
module starts the cluster and stops it again if it was not running before. Docs: docs/slurm.md.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT
from tests.workflow_helpers import env, same_dataset, snakemake_cmd, workflow_copy

pytestmark = pytest.mark.slurm

SCRIPTS = ROOT / "tests" / "slurm"
SLURM_CONF = Path(os.environ.get("VIMPNN_SLURM_DIR", "/var/tmp/vimpnn-slurm")) / "etc" / "slurm.conf"
ACCOUNT = "vimpnn"  # the account start-cluster.sh creates
PROFILE = "profiles/test-slurm"
TIMEOUT = 1800

# 12 fcc Al/Cu cells with EMT in 3 DFT chunks, one MPNN and one VIMPNN trained 3 epochs, Table 2, the report.
# Training asks for 2 CPUs and 1 GPU so that the requested CPU count is visible in the allocation.
CONFIG = {
    "seed": 0,
    "datasets": ["infcrystal"],
    "infcrystal": {"elements": ["Al", "Cu"], "cell": "primitive", "scalings": {"min": 0.9, "max": 1.5, "n": 6},
                   "n_train_per_element": 2},
    "dft": {"backend": "emt", "cache_dir": "results/dft/cache"},
    "workflow": {"chunk_size": {"infcrystal": 4}, "dft_threads": 1, "dft_mem_mb": 500, "dft_runtime_min": 10},
    "experiments": {"data": "computed", "seeds": [0], "epochs": 3, "datasets": ["infcrystal"], "tables": ["table2"],
                    "figures": [], "resources": {"gpu": 1, "threads": 2, "mem_mb": 1000, "runtime": 10}},
}
N_STRUCTURES = 12
CHUNKS = [f"{i:05d}" for i in range(3)]
SACCT_FIELDS = ("JobID", "Partition", "Account", "AllocCPUS", "ReqMem", "AllocTRES", "State", "Comment", "ElapsedRaw")


def slurm_env() -> dict[str, str]:
    return {**env(), "SLURM_CONF": str(SLURM_CONF)}


def slurm(*cmd: str) -> str:
    return subprocess.run(cmd, env=slurm_env(), check=True, capture_output=True, text=True, timeout=60).stdout


@pytest.fixture(scope="module")
def cluster():
    if shutil.which("slurmctld") is None or shutil.which("sbatch") is None:
        pytest.skip("SLURM is not installed: `make test-slurm` installs it and runs these tests")
    if os.geteuid() != 0:
        pytest.skip("the test cluster's daemons (munged, MariaDB, slurmdbd, slurmctld, slurmd) need root")
    was_up = SLURM_CONF.exists() and subprocess.run(["scontrol", "ping"], env=slurm_env(), capture_output=True,
                                                    timeout=30).returncode == 0
    subprocess.run([SCRIPTS / "start-cluster.sh"], check=True, timeout=300)
    yield
    if not was_up:
        subprocess.run([SCRIPTS / "stop-cluster.sh"], check=True, timeout=300)


def slurm_workflow(dest: Path, config: dict = CONFIG) -> Path:
    """The workflow with profiles/slurm as shipped, plus the test cluster's account and a quicker job-state poll."""
    wd = workflow_copy(dest, config)
    profile = yaml.safe_load((wd / "profiles/slurm/config.yaml").read_text())
    profile["default-resources"]["slurm_account"] = ACCOUNT
    profile["seconds-between-status-checks"] = 1  # first poll; the plugin adds 10 s per poll without news
    profile["slurm-init-seconds-before-status-checks"] = 1  # poll interval after a job finished (plugin: 40 s)
    (wd / PROFILE).mkdir()
    (wd / PROFILE / "config.yaml").write_text(yaml.safe_dump(profile))
    return wd


def start_snakemake(wd: Path, *args: str) -> tuple[subprocess.Popen, Path]:
    log = wd / f"snakemake-{len(list(wd.glob('snakemake-*.log')))}.log"
    proc = subprocess.Popen(snakemake_cmd("--profile", PROFILE, "--configfile=config/test.yaml", *args), cwd=wd,
                            env=slurm_env(), stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    return proc, log


def run_snakemake_slurm(wd: Path, *args: str) -> str:
    proc, log = start_snakemake(wd, *args)
    rc = proc.wait(timeout=TIMEOUT)
    out = log.read_text()
    assert rc == 0, out[-5000:]
    return out


def wait_for(what: str, check, timeout: float = 600, poll: float = 0.5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def run_id(log: str) -> str | None:
    """The SLURM job name the plugin gives every job of one Snakemake run."""
    m = re.search(r"SLURM run ID: (\S+)", log)
    return m[1] if m else None


def sacct(name: str) -> dict[str, dict[str, str]]:
    """SLURM's accounting record of every job of one Snakemake run, by SLURM job id."""
    since = (datetime.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
    out = slurm("sacct", "-X", "-P", "-n", "--name", name, "-S", since, "-o", ",".join(SACCT_FIELDS))
    rows = [dict(zip(SACCT_FIELDS, line.split("|"))) for line in out.splitlines() if line]
    return {row["JobID"]: row for row in rows}


def queued(name: str, states: str = "PENDING,RUNNING") -> list[tuple[str, str]]:
    """(job id, comment) of a run's jobs that SLURM still holds in `states`."""
    out = slurm("squeue", "-h", "--name", name, "-t", states, "-o", "%i|%k")
    return [tuple(line.split("|", 1)) for line in out.splitlines() if line]


def snakemake_jobs(log: str) -> dict[str, dict]:
    """Snakemake job id -> what it asked for (rule, wildcards, threads, resources, log file), read from its output."""
    jobs = {}
    for m in re.finditer(r"^rule (\w+):\n((?:    .*\n)+)", log, re.M):
        fields = dict(line.strip().split(": ", 1) for line in m[2].splitlines() if ": " in line)
        resources = dict(kv.split("=", 1) for kv in fields["resources"].split(", "))
        jobs[fields["jobid"]] = {"rule": m[1], "threads": int(fields.get("threads", 1)), "resources": resources,
                                 "log": fields.get("log"), "wildcards": fields.get("wildcards", "")}
    return jobs


def submitted(log: str) -> dict[str, dict]:
    """SLURM job id -> what Snakemake asked for."""
    jobs = snakemake_jobs(log)
    return {slurm_id: jobs[jobid]
            for jobid, slurm_id in re.findall(r"^Job (\d+) has been submitted with SLURM jobid (\d+)", log, re.M)}


def chunk_of(comment: str) -> str | None:
    """The chunk of a dft_chunk job, from the plugin's --comment rule_<rule>_wildcards_<values joined by _>."""
    m = re.fullmatch(r"rule_dft_chunk_wildcards_infcrystal_(\d+)", comment)
    return m[1] if m else None


def cache_files(wd: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in (wd / "results/dft/cache").rglob("*.json")}


@pytest.fixture(scope="module")
def local_run(tmp_path_factory) -> Path:
    """The same config run locally (--cores 2): what the SLURM runs must reproduce."""
    wd = workflow_copy(tmp_path_factory.mktemp("local"), CONFIG)
    t0 = time.perf_counter()
    res = subprocess.run(snakemake_cmd("--cores", "2", "--configfile=config/test.yaml", "all"), cwd=wd, env=env(),
                         capture_output=True, text=True, timeout=TIMEOUT)
    assert res.returncode == 0, res.stderr[-5000:]
    print(f"\nlocal run (--cores 2): {time.perf_counter() - t0:.0f} s")
    return wd


def test_every_job_runs_as_a_slurm_job_with_its_resources_and_reproduces_the_local_run(cluster, local_run, tmp_path):
    """structures -> DFT chunks -> pack -> training -> report, each job read back from SLURM's accounting."""
    wd = slurm_workflow(tmp_path)
    t0 = time.perf_counter()
    out = run_snakemake_slurm(wd, "all")
    wall = time.perf_counter() - t0
    asked = submitted(out)
    acct = sacct(run_id(out))

    # every job Snakemake submitted is in SLURM's accounting, completed, with what the rule asked for
    assert set(asked) == set(acct), (sorted(asked), sorted(acct))
    rules = sorted(a["rule"] for a in asked.values())
    assert rules == sorted(["structures", "dft_references", *["dft_chunk"] * 3, "pack", "train", "train",
                            "evaluate_run", "evaluate_run", "table", "report_html"])
    for slurm_id, a in asked.items():
        row, res = acct[slurm_id], a["resources"]
        assert row["State"] == "COMPLETED", (slurm_id, a["rule"], row)
        assert row["Account"] == ACCOUNT
        assert row["Partition"] == res["slurm_partition"], (a["rule"], row)
        assert int(row["AllocCPUS"]) == a["threads"], (a["rule"], row)
        assert row["ReqMem"] == f"{res['mem_mb']}M", (a["rule"], row)
        assert ("gres/gpu=1" in row["AllocTRES"]) == (int(res.get("gpu", 0)) > 0), (a["rule"], row)
        assert (wd / a["log"]).is_file(), a["log"]  # the rule's log in logs/, as the README says
    # the profile's placement and the config's sizes, read back from SLURM
    by_rule = {a["rule"]: acct[i] for i, a in asked.items()}
    assert by_rule["dft_chunk"]["Partition"] == "cpu" and by_rule["dft_chunk"]["ReqMem"] == "500M"
    assert int(by_rule["dft_chunk"]["AllocCPUS"]) == CONFIG["workflow"]["dft_threads"]
    assert by_rule["train"]["Partition"] == "gpu" and "gres/gpu=1" in by_rule["train"]["AllocTRES"]
    train = CONFIG["experiments"]["resources"]
    assert int(by_rule["train"]["AllocCPUS"]) == train["threads"]
    assert by_rule["train"]["ReqMem"] == f"{train['mem_mb']}M"
    assert by_rule["evaluate_run"]["Partition"] == "gpu" and "gres/gpu=1" in by_rule["evaluate_run"]["AllocTRES"]
    train_id = next(i for i, a in asked.items() if a["rule"] == "train")
    submit = slurm("sacct", "-X", "-n", "-P", "-o", "SubmitLine%10000", "-j", train_id).split(" --wrap=")[0] + " "
    assert " -p gpu " in submit and " --gpus=1 " in submit and " --cpus-per-task=2 " in submit, submit
    assert "4 structures: 4 ok, 0 failed" in (wd / "logs/dft/infcrystal/chunk-00000.log").read_text()

    # the same numbers as the local run: dataset, test metrics of both models, the table
    assert same_dataset(wd / "results/datasets/infcrystal.h5", local_run / "results/datasets/infcrystal.h5")
    for rel in [*sorted(p.relative_to(local_run) for p in (local_run / "results/evals").rglob("metrics.json")),
                Path("results/tables/table2.csv")]:
        assert (wd / rel).read_bytes() == (local_run / rel).read_bytes(), rel
    assert (wd / "results/report/report.html").stat().st_size > 0

    elapsed = [int(row["ElapsedRaw"]) for row in acct.values()]
    print(f"\n{len(acct)} SLURM jobs, elapsed {min(elapsed)}-{max(elapsed)} s each; workflow wall time {wall:.0f} s")
    for slurm_id, a in sorted(asked.items(), key=lambda kv: int(kv[0])):
        row = acct[slurm_id]
        print(f"  {slurm_id:>5} {a['rule']:<15} {a['wildcards']:<55} {row['Partition']:<4} cpus={row['AllocCPUS']}"
              f" mem={row['ReqMem']:<6} {row['State']:<10} {row['ElapsedRaw']:>3} s")


def test_a_cancelled_dft_chunk_is_reported_and_only_that_chunk_runs_again(cluster, local_run, tmp_path):
    """scancel one running chunk job: Snakemake reports it and its retry (profile: retries 1) reruns only it."""
    wd = slurm_workflow(tmp_path)
    proc, log = start_snakemake(wd, "datasets")
    name = wait_for("the SLURM run ID", lambda: run_id(log.read_text()))
    job, comment = wait_for("a running DFT chunk job",
                            lambda: next((q for q in queued(name, "RUNNING") if chunk_of(q[1])), None), poll=0.2)
    slurm("scancel", job)
    assert proc.wait(timeout=TIMEOUT) == 0, log.read_text()[-5000:]
    out = log.read_text()

    acct = sacct(name)
    assert acct[job]["State"].startswith("CANCELLED"), f"job {job} ended {acct[job]['State']} before scancel"
    assert f"SLURM-job '{job}' failed, SLURM status is: 'CANCELLED'" in out
    runs = {c: sorted((int(i), row["State"].split()[0]) for i, row in acct.items() if chunk_of(row["Comment"]) == c)
            for c in CHUNKS}
    cancelled = chunk_of(comment)
    for c, states in runs.items():
        expected = ["CANCELLED", "COMPLETED"] if c == cancelled else ["COMPLETED"]
        assert [s for _, s in states] == expected, (c, states)
    # SLURM's log of the failed job is kept where the profile puts it
    assert any((wd / "logs/slurm/rule_dft_chunk").rglob(f"{job}.log")), list((wd / "logs/slurm").rglob("*"))
    assert len(cache_files(wd)) == N_STRUCTURES + 2  # each structure and both isolated atoms computed once
    assert same_dataset(wd / "results/datasets/infcrystal.h5", local_run / "results/datasets/infcrystal.h5")
    print(f"\ncancelled SLURM job {job} ({comment}); chunk jobs: {runs}")


def test_kill_9_with_jobs_queued_then_unlock_and_rerun_repeats_no_finished_work(cluster, local_run, tmp_path):
    """SIGKILL Snakemake while its jobs wait in the queue; they finish under SLURM; --unlock and rerun finish the
    dataset without resubmitting any finished job and without computing any structure twice."""
    # 6 chunks of 2 (same dataset): with 2 CPUs, jobs still wait in the queue when the first chunks have finished
    wd = slurm_workflow(tmp_path, {**CONFIG, "workflow": {**CONFIG["workflow"], "chunk_size": {"infcrystal": 2}}})
    proc, log = start_snakemake(wd, "datasets")
    name = wait_for("the SLURM run ID", lambda: run_id(log.read_text()))

    def finished_chunk_and_queue() -> bool:
        assert proc.poll() is None, "Snakemake ended before it had jobs in the queue and a chunk finished"
        done = re.findall(r"^Finished jobid: \d+ \(Rule: dft_chunk\)", log.read_text(), re.M)
        return bool(done) and bool(queued(name, "PENDING"))

    wait_for("a finished chunk while others are queued", finished_chunk_and_queue)
    os.kill(proc.pid, signal.SIGKILL)  # only Snakemake: its jobs belong to SLURM
    proc.wait()
    out = log.read_text()
    jobs = snakemake_jobs(out)
    finished = {jobs[i]["wildcards"].split("chunk=")[1]
                for i in re.findall(r"^Finished jobid: (\d+) \(Rule: dft_chunk\)", out, re.M)}
    orphans = queued(name)
    assert finished and orphans, (finished, orphans)

    # what docs/slurm.md tells a user: let the killed run's jobs finish (or scancel --name=<run ID>), then
    # release the lock and run the same command again
    wait_for("the killed run's jobs to leave the queue", lambda: not queued(name), poll=2)
    before = cache_files(wd)
    assert len(before) == N_STRUCTURES + 2
    res = subprocess.run(snakemake_cmd("--unlock", "--configfile=config/test.yaml"), cwd=wd, env=slurm_env(),
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    rerun = run_snakemake_slurm(wd, "datasets")

    # the orphaned jobs recorded their own end in .snakemake (each job step runs Snakemake), so the rerun submits
    # only what never ran
    assert all(row["State"] == "COMPLETED" for row in sacct(name).values())
    again = sorted(row["Comment"] for row in sacct(run_id(rerun)).values())
    assert again == ["rule_pack_wildcards_infcrystal"], again
    assert cache_files(wd) == before  # no structure computed again
    assert same_dataset(wd / "results/datasets/infcrystal.h5", local_run / "results/datasets/infcrystal.h5")
    print(f"\nkilled run {name}: chunks finished before the kill {sorted(finished)}, jobs left in the queue "
          f"{orphans}; rerun {run_id(rerun)} submitted {again}")
