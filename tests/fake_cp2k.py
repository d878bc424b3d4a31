"""A fake `cp2k.psmp` for fast tests: put first on PATH, it writes CP2K-like output chosen by $FAKE_CP2K_MODE.

Modes: ok | noenergy | unconverged | crash | retry_ok (converges once MAX_SCF >= 100) | sleep | kill_parent
(kill -9 of the calling process on invocation $FAKE_CP2K_KILL_AT, else ok). Like CP2K, an input with SCF_GUESS
RESTART aborts when its WFN_RESTART_FILE_NAME is missing, and a converged run whose input turns the SCF's
&RESTART print on writes `vimpnn-RESTART.wfn` (its text: the run's working directory). Every invocation appends its working
directory to $FAKE_CP2K_LOG, so tests can count CP2K runs and see where they ran. The ok energy is -0.5 Hartree
per atom. $FAKE_CP2K_SLEEP delays every run by that many seconds (default 30 in sleep mode, else 0), and a run
fails ("ABORT") when its working directory disappears meanwhile, as CP2K does. `--version` prints
$FAKE_CP2K_VERSION (default "CP2K version 2023.1 (fake)") and a compiled-in data directory /usr/share/cp2k.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

SCRIPT = r'''#!{python}
import os, re, signal, sys, time
args = sys.argv[1:]
version = os.environ.get("FAKE_CP2K_VERSION", "CP2K version 2023.1 (fake)")
if args == ["--version"]:
    print(" %s\n Source code revision fake\n compiler options:\n   -D __DATA_DIR=\"/usr/share/cp2k\" -O2" % version)
    sys.exit(0)
inp = open(args[args.index("-i") + 1]).read()
out = args[args.index("-o") + 1]
mode = os.environ.get("FAKE_CP2K_MODE", "ok")
log = os.environ["FAKE_CP2K_LOG"]
with open(log, "a") as fh:
    fh.write(os.getcwd() + "\n")
n_calls = sum(1 for _ in open(log))
natoms = len(inp.split("&COORD")[1].split("&END COORD")[0].strip().splitlines())
max_scf = int(re.search(r"^\s+MAX_SCF\s+(\d+)", inp, re.M).group(1))
head = " CP2K| version string:                                       %s\n" % version
ok = (head + "  *** SCF run converged in     7 steps ***\n"
      " ENERGY| Total FORCE_EVAL ( QS ) energy [a.u.]:   %.12f\n  PROGRAM ENDED AT  now\n" % (-0.5 * natoms))
bad = head + "\n".join("    %d OT DIIS  0.8E-01  1.0  0.1  -1.0  -1.0E-01" % (i + 1) for i in range(max_scf))
bad += "\n *** SCF run NOT converged ***\n"
if mode == "kill_parent" and n_calls == int(os.environ["FAKE_CP2K_KILL_AT"]):
    os.kill(os.getppid(), signal.SIGKILL)
    time.sleep(5)
    sys.exit(137)
cwd, inode = os.getcwd(), os.stat(".").st_ino
time.sleep(float(os.environ.get("FAKE_CP2K_SLEEP", 30 if mode == "sleep" else 0)))
try:
    moved = os.stat(cwd).st_ino != inode
except FileNotFoundError:
    moved = True
if moved:  # the working directory was removed (and maybe made again) under this run
    sys.exit(1)
guess = re.search(r"^\s+WFN_RESTART_FILE_NAME\s+(\S+)", inp, re.M)
if re.search(r"^\s+SCF_GUESS\s+RESTART", inp, re.M) and not (guess and os.path.exists(guess.group(1))):
    open(out, "w").write(head + " *** ABORT *** restart file not found\n"); sys.exit(1)
if mode == "noenergy":
    open(out, "w").write(head + "  PROGRAM ENDED AT  now\n"); sys.exit(0)
if mode == "unconverged" or (mode == "retry_ok" and max_scf < 100):
    open(out, "w").write(bad); sys.exit(1)
if mode == "crash":
    open(out, "w").write(head + " *** ABORT ***\n"); sys.exit(1)
open(out, "w").write(ok)
if re.search(r"^\s+&RESTART\s+ON", inp, re.M):
    open("vimpnn-RESTART.wfn", "w").write(cwd)
'''


def install(directory: Path) -> Path:
    """Write the fake binary as `directory/cp2k.psmp` (run by this interpreter) and return its directory."""
    directory.mkdir(parents=True, exist_ok=True)
    exe = directory / "cp2k.psmp"
    exe.write_text(SCRIPT.replace("{python}", sys.executable))
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return directory


def environment(directory: Path, mode: str, log: Path, **extra: str) -> dict[str, str]:
    """Variables that put the fake first on PATH and select its behaviour."""
    return {"PATH": f"{install(directory)}{os.pathsep}{os.environ['PATH']}", "FAKE_CP2K_MODE": mode,
            "FAKE_CP2K_LOG": str(log), **extra}


def calls(log: Path) -> int:
    return sum(1 for _ in open(log)) if log.exists() else 0
