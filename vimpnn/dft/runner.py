"""The CP2K backend: one `cp2k.psmp` process per structure and attempt, in a scratch directory of its own.

Threads (OMP), MPI ranks and the per-attempt wall-time limit come from the settings; a failed attempt goes
through the retry ladder of `vimpnn.dft.handlers`, and what was tried is recorded in `attempts`.

The cache key is the sha256 of the rendered input, the CP2K version and the sha256 of the basis and potential
files CP2K will read: a CP2K upgrade or an edited basis file recomputes. The retry ladder is not in the key
(a success stays valid when the ladder changes); a cached failure is recomputed when the ladder or a limiting
`max_retries` changed (`stale`).

Wavefunction restart (`wfn_restart`): the structures of one curve (the same atoms in the same shape, scaled
isometrically) whose SCF is OT (molecules) run one after another, each starting from the converged
wavefunction of the one before instead of CP2K's atomic guess. This is added at run time only: the cache key
stays that of the structure's own input, whose energy the restart reaches within EPS_SCF. Inputs that
diagonalise with smearing and Broyden mixing (clusters, bulk cells) gain nothing from it: their step count is
set by the mixing (docs/dft-validation.md, "Cost").
"""

from __future__ import annotations

import copy
import json
import os
import shlex
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from vimpnn.dft import basis, handlers, templates
from vimpnn.dft.binary import build, find_executable
from vimpnn.dft.parsing import ParsedOutput, parse_output
from vimpnn.dft.result import DFTResult

SETTINGS_RECORD = ("functional", "basis_set", "element_basis", "potential", "cutoff", "element_cutoff", "rel_cutoff",
                   "eps_scf", "smear_temperature", "vacuum", "max_scale", "box", "kpoint_length")
DATA_FILE_KEYWORDS = ("force_eval/dft/basis_set_file_name", "force_eval/dft/potential_file_name")
Attempt = tuple[ParsedOutput, handlers.Outcome, float, int | None]  # parsed output, outcome, seconds, exit status


def data_file_names(tree: dict) -> list[str]:
    """The BASIS_SET_FILE_NAME and POTENTIAL_FILE_NAME values of an input (each may be repeated)."""
    names = []
    for path in DATA_FILE_KEYWORDS:
        value = templates.get_path(tree, path, [])
        names += [value] if isinstance(value, str) else list(value)
    return names


@dataclass(frozen=True)
class Prepared:
    """A structure ready to run: its rendered input, where CP2K finds its data files, and the cache key."""

    input_hash: str           # sha256 of the rendered input
    cache_key: str            # sha256 of input_hash, CP2K version and data-file hashes
    rendered: templates.Rendered
    data_dir: Path            # passed to CP2K as $CP2K_DATA_DIR
    data_files: dict          # file name -> sha256
    curve: str | None = None  # wfn_restart: the structures sharing it run in order of `scale`, each from the last
    scale: float = 1.0

    @property
    def settings_record(self) -> dict:
        r = self.rendered
        record = {k: r.settings[k] for k in SETTINGS_RECORD}
        return record | {"kpoints": list(r.kpoints) if r.kpoints else None, "template": r.template,
                         "template_hash": r.template_hash, "data_files": self.data_files}


class CP2KBackend:
    name = "cp2k"

    def __init__(self, settings: dict):
        self.settings = settings
        self.executable = find_executable(settings)
        self.version = build(self.executable).version

    def prepare(self, atoms, template: str | None = None) -> Prepared:
        rendered = templates.render(atoms, self.settings, template)
        root = basis.data_dir(rendered.settings)
        files = basis.file_hashes(data_file_names(rendered.tree), root)
        key = templates.sha256(json.dumps({"input": rendered.input_hash, "cp2k": self.version, "data_files": files},
                                          sort_keys=True))
        curve = restart_curve(atoms, rendered)
        return Prepared(rendered.input_hash, key, rendered, root, files, curve, float(atoms.info.get("scale", 1.0)))

    def stale(self, record: DFTResult) -> str | None:
        """Why a cached record must be computed again, or None. Only failures: another retry ladder, or a
        larger `max_retries` than the one that stopped it (a smaller one would fail the same way)."""
        if record.status == "ok":
            return None
        ladder, retries = record.settings.get("ladder"), record.settings.get("max_retries")
        if ladder != handlers.LADDER_VERSION:
            return f"a failure under retry ladder {ladder}, now {handlers.LADDER_VERSION}"
        now = int(self.settings["max_retries"])
        if retries is None or (now > retries and len(record.attempts) > retries):
            return f"a failure that stopped at max_retries {retries}, now {now}"
        return None

    def run(self, job: Prepared, scratch: Path, guess: tuple[Path, str] | None = None,
            keep: Path | None = None) -> dict:
        """Attempts until one succeeds or the ladder is exhausted; the fields of a DFTResult (no system_id).

        The attempts run in `scratch/<cache key>-<pid>-<random>/attempt-N`, made and removed by this call only:
        another process (or an orphaned CP2K of a killed one) never shares or deletes it. `guess`: (wavefunction
        file, the structure it came from) that the first attempt starts from; retries start from the atomic
        guess. `keep`: where the converged wavefunction goes when the input's own settings converged (not a
        ladder rung: a rescued state is no guess for its neighbours); `_kept` says whether it went there.
        """
        s = self.settings
        tree, used, attempts = job.rendered.tree, set(), []
        text, label, total = job.rendered.text, "initial", 0.0
        if keep is not None:
            tree = with_restart_output(tree)
            text = templates.generate(tree)
        start = "atomic"
        if guess is not None:
            text, start = templates.generate(with_guess(tree, "guess.wfn")), f"restart:{guess[1]}"
        scratch.mkdir(parents=True, exist_ok=True)
        own = Path(tempfile.mkdtemp(prefix=f"{job.cache_key}-{os.getpid()}-", dir=scratch))
        kept = False
        try:
            while True:
                workdir = own / f"attempt-{len(attempts)}"
                workdir.mkdir()
                if start != "atomic":
                    shutil.copyfile(guess[0], workdir / "guess.wfn")
                parsed, outcome, seconds, rc = self._attempt(text, workdir, job.data_dir)
                total += seconds
                attempts.append({"step": label, "status": "ok" if outcome.ok else "failed", "guess": start,
                                 "reason": outcome.reason, "returncode": rc, "walltime_s": round(seconds, 3)})
                if outcome.ok and keep is not None and label == "initial":
                    kept = store(workdir / RESTART_FILE, keep)
                start = "atomic"
                if outcome.ok or len(attempts) > int(s["max_retries"]):
                    break
                fix = handlers.next_fix(outcome, tree, used)
                if fix is None:
                    break
                label, tree = fix
                used.add(label)
                text = templates.generate(tree)
        finally:
            if not s["keep_scratch"]:
                shutil.rmtree(own, ignore_errors=True)
        return {
            "status": "ok" if outcome.ok else "failed",
            "energy": parsed.energy_ev if outcome.ok else None,
            "reason": None if outcome.ok else f"{outcome.reason} (after {len(attempts)} attempt(s))",
            "backend": self.name, "input_hash": job.input_hash, "scf_converged": parsed.scf_converged,
            "scf_steps": parsed.scf_steps, "walltime_s": round(total, 3), "code_version": parsed.code_version,
            "attempts": attempts, "settings": job.settings_record | {"ladder": handlers.LADDER_VERSION,
                                                                     "max_retries": int(s["max_retries"])},
            "_cacheable": all(a["returncode"] is None or a["returncode"] >= 0 for a in attempts)
            and not outcome.walltime_exceeded,
            "_kept": kept,
        }

    def _command(self) -> list[str]:
        cmd = [self.executable, "-i", "vimpnn.inp", "-o", "vimpnn.out"]
        ranks = int(self.settings["mpi_ranks"])
        return shlex.split(self.settings["mpi_command"].format(ranks=ranks)) + cmd if ranks > 1 else cmd

    def _attempt(self, text: str, workdir: Path, data_dir: Path) -> Attempt:
        (workdir / "vimpnn.inp").write_text(text)
        env = os.environ | {"OMP_NUM_THREADS": str(int(self.settings["omp_threads"])), "CP2K_DATA_DIR": str(data_dir)}
        limit = float(self.settings["walltime_s"])
        t0 = time.perf_counter()
        with open(workdir / "stdout.txt", "w") as log:
            # Same process group as vimpnn: Ctrl-C or a job scheduler's signal to the group stops CP2K too.
            proc = subprocess.Popen(self._command(), cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
            try:
                rc, timed_out = proc.wait(timeout=limit), False
            except subprocess.TimeoutExpired:
                rc, timed_out = None, True
                proc.terminate()  # lets mpirun stop its ranks
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        seconds = time.perf_counter() - t0
        out = workdir / "vimpnn.out"
        parsed = parse_output(out.read_text(errors="replace") if out.exists() else "")
        return parsed, classify(parsed, rc, timed_out, limit), seconds, rc


RESTART_FILE = "vimpnn-RESTART.wfn"  # <PROJECT>-RESTART.wfn, PROJECT vimpnn in every template


def restart_curve(atoms, rendered: templates.Rendered) -> str | None:
    """The curve whose wavefunctions this structure shares (`wfn_restart`, an OT input, a `scale` in its info),
    else None."""
    ot = templates.get_path(rendered.tree, "force_eval/dft/scf/ot") is not None
    if not (rendered.settings["wfn_restart"] and ot and "scale" in atoms.info):
        return None
    return curve_key(atoms, rendered)


def curve_key(atoms, rendered: templates.Rendered) -> str:
    """The same for every isometric scaling of one structure at one level: its symbols, its shape (positions
    relative to the first atom over `scale`, to 1e-4 Å) and the template and settings it is rendered with."""
    shape = (atoms.get_positions() - atoms.get_positions()[0]) / float(atoms.info["scale"])
    return templates.sha256(json.dumps({"symbols": atoms.get_chemical_symbols(),
                                        "shape": [[round(float(x), 4) + 0.0 for x in row] for row in shape],
                                        "template": rendered.template, "settings": rendered.settings},
                                       sort_keys=True, default=str))


def with_restart_output(tree: dict) -> dict:
    """The input writing its converged wavefunction (`vimpnn-RESTART.wfn`, no backups)."""
    tree = copy.deepcopy(tree)
    templates.set_path(tree, "force_eval/dft/scf/print/restart", {"_": "ON", "backup_copies": 0})
    return tree


def with_guess(tree: dict, wavefunction: str) -> dict:
    """The input starting its SCF from `wavefunction` instead of the atomic guess."""
    tree = copy.deepcopy(tree)
    templates.set_path(tree, "force_eval/dft/scf/scf_guess", "RESTART")
    templates.set_path(tree, "force_eval/dft/wfn_restart_file_name", wavefunction)
    return tree


def store(wavefunction: Path, destination: Path) -> bool:
    """Copy a converged wavefunction into place atomically (a reader never sees half a file); False if CP2K
    wrote none."""
    if not wavefunction.exists():
        return False
    partial = destination.with_name(f".{destination.name}.{os.getpid()}.tmp")
    shutil.copyfile(wavefunction, partial)
    os.replace(partial, destination)
    return True


def classify(parsed: ParsedOutput, returncode: int | None, timed_out: bool, limit: float) -> handlers.Outcome:
    """ok only for a clean exit with a converged SCF and a total energy; otherwise the first reason that applies."""
    if timed_out or parsed.walltime_exceeded:
        return handlers.Outcome(False, f"wall-time limit of {limit:g} s exceeded", walltime_exceeded=True)
    if returncode != 0:
        scf = ", SCF not converged" if parsed.scf_converged is False else ""
        return handlers.Outcome(False, f"cp2k exited with status {returncode}{scf}")
    if parsed.energy_ev is None:
        return handlers.Outcome(False, "no total energy in the CP2K output")
    if not parsed.scf_converged:
        return handlers.Outcome(False, f"SCF not converged after {parsed.scf_steps} steps")
    return handlers.Outcome(True, None)
