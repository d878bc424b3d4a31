# The README's two commands: `make demo` and `make test`. Both set up a virtual environment first.
#
# TORCH picks the torch build. The default is the CPU build that this project tests (pip finds it in
# the local find-links, or add TORCH_PIP_ARGS="--index-url <the CPU wheel index>").
# On GPU nodes install a CUDA torch into the venv first, then `make setup TORCH=torch`.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
TORCH_PIP_ARGS ?=
# the peer model's library, installed without its dependencies (pyproject.toml's `peer` extra has them)
SCHNETPACK ?= schnetpack==2.1.1
EXTRAS ?= dev,slurm
CORES ?= 2
BIN := $(VENV)/bin
# default suite + the representative long tests marked `ci`
PYTEST_MARKERS ?= (not slow and not cp2k and not gpu and not slurm) or ci
# Debian packages of the single-node SLURM cluster the `slurm` tests start (tests/slurm/start-cluster.sh)
SLURM_PACKAGES ?= slurmctld slurmd slurmdbd slurm-client munge mariadb-server

.PHONY: setup cp2k slurm test test-all test-slurm demo clean-demo

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH)" $(TORCH_PIP_ARGS)
	$(BIN)/pip install -q -e ".[$(EXTRAS)]"
	case ",$(EXTRAS)," in *,dev,*|*,peer,*) $(BIN)/pip install -q --no-deps "$(SCHNETPACK)";; esac
	touch $@

# CP2K from Debian's `cp2k` package (cp2k.psmp with its basis and potential files).
cp2k:
	@command -v cp2k.psmp >/dev/null || { \
	  echo "cp2k.psmp not found: installing Debian's cp2k package"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq cp2k; }
	@command -v cp2k.psmp >/dev/null

# SLURM 22.05, munge and MariaDB from Debian, for the test cluster (docs/slurm.md)
slurm:
	@command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v slurmdbd >/dev/null && \
	  command -v sbatch >/dev/null && command -v munged >/dev/null && command -v mariadbd >/dev/null || { \
	  echo "SLURM test cluster packages missing: installing $(SLURM_PACKAGES)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(SLURM_PACKAGES); }
	@command -v slurmctld >/dev/null && command -v mariadbd >/dev/null

test: setup cp2k
	$(BIN)/python -m pytest -m "$(PYTEST_MARKERS)"

test-all: setup cp2k slurm
	$(BIN)/python -m pytest -m ""

# the workflow on a real single-node SLURM cluster (started and stopped by the tests; needs root)
test-slurm: setup slurm
	@[ "$$(id -u)" = 0 ] || { echo "make test-slurm starts munged, MariaDB and the SLURM daemons: run it as root"; exit 1; }
	$(BIN)/python -m pytest -m slurm

demo: setup cp2k
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/snakemake --cores $(CORES) --configfile=config/demo.yaml demo
