"""The CP2K backend: one `cp2k.psmp` process per structure and attempt, in its own scratch directory.

Threads (OMP), MPI ranks and the per-attempt wall-time limit come from the settings; a failed attempt goes
through the retry ladder of `vimpnn.dft.handlers`, and what was tried is recorded in `attempts`.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from vimpnn.dft import handlers, templates
from vimpnn.dft.parsing import ParsedOutput, parse_output
from vimpnn.errors import DFTSetupError

INSTALL_HINT = "install it with `apt-get install cp2k` (Debian/Ubuntu) or set dft.executable to its path"
SETTINGS_RECORD = ("functional", "basis_set", "potential", "cutoff", "rel_cutoff", "eps_scf",
                   "smear_temperature", "vacuum", "max_scale", "kpoint_length")


def find_executable(settings: dict) -> str:
    """The CP2K binary's full path; raises before any work when it is missing."""
    exe = settings["executable"]
    found = shutil.which(exe)
    if found is None:
        raise DFTSetupError(f"CP2K executable {exe!r} not found on PATH; {INSTALL_HINT}")
    return found


@dataclass(frozen=True)
class Prepared:
    """A structure ready to run: its rendered input (the cache key is the input's sha256)."""

    input_hash: str
    rendered: templates.Rendered

    @property
    def settings_record(self) -> dict:
        r = self.rendered
        record = {k: r.settings[k] for k in SETTINGS_RECORD}
        return record | {"kpoints": list(r.kpoints) if r.kpoints else None, "template": r.template,
                         "template_hash": r.template_hash}


class CP2KBackend:
    name = "cp2k"

    def __init__(self, settings: dict):
        self.settings = settings
        self.executable = find_executable(settings)

    def prepare(self, atoms, template: str | None = None) -> Prepared:
        rendered = templates.render(atoms, self.settings, template)
        return Prepared(rendered.input_hash, rendered)

    def run(self, job: Prepared, scratch: Path) -> dict:
        """Attempts until one succeeds or the ladder is exhausted; the fields of a DFTResult (no system_id)."""
        s = self.settings
        tree, used, attempts = job.rendered.tree, set(), []
        text, label, total = job.rendered.text, "initial", 0.0
        while True:
            workdir = scratch / job.input_hash / f"attempt-{len(attempts)}"
            parsed, outcome, seconds, rc = self._attempt(text, workdir)
            total += seconds
            attempts.append({"step": label, "status": "ok" if outcome.ok else "failed", "reason": outcome.reason,
                             "returncode": rc, "walltime_s": round(seconds, 3)})
            if outcome.ok or len(attempts) > int(s["max_retries"]):
                break
            fix = handlers.next_fix(outcome, tree, used)
            if fix is None:
                break
            label, tree = fix
            used.add(label)
            text = templates.generate(tree)
        if not s["keep_scratch"]:
            shutil.rmtree(scratch / job.input_hash, ignore_errors=True)
        return {
            "status": "ok" if outcome.ok else "failed",
            "energy": parsed.energy_ev if outcome.ok else None,
            "reason": None if outcome.ok else f"{outcome.reason} (after {len(attempts)} attempt(s))",
            "backend": self.name, "input_hash": job.input_hash, "scf_converged": parsed.scf_converged,
            "scf_steps": parsed.scf_steps, "walltime_s": round(total, 3), "code_version": parsed.code_version,
            "attempts": attempts, "settings": job.settings_record,
            "_cacheable": all(a["returncode"] is None or a["returncode"] >= 0 for a in attempts)
            and not outcome.walltime_exceeded,
        }

    def _command(self) -> list[str]:
        cmd = [self.executable, "-i", "vimpnn.inp", "-o", "vimpnn.out"]
        ranks = int(self.settings["mpi_ranks"])
        return shlex.split(self.settings["mpi_command"].format(ranks=ranks)) + cmd if ranks > 1 else cmd

    def _attempt(self, text: str, workdir: Path) -> tuple[ParsedOutput, handlers.Outcome, float, int | None]:
        shutil.rmtree(workdir, ignore_errors=True)  # cp2k appends to an existing output file
        workdir.mkdir(parents=True)
        (workdir / "vimpnn.inp").write_text(text)
        env = os.environ | {"OMP_NUM_THREADS": str(int(self.settings["omp_threads"]))}
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
