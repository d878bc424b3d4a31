# Paths and helpers shared by start-cluster.sh and stop-cluster.sh (sourced, not run).
# Everything the test cluster writes lives under VIMPNN_SLURM_DIR; its daemons listen on 127.0.0.1 only.
VIMPNN_SLURM_DIR=${VIMPNN_SLURM_DIR:-/var/tmp/vimpnn-slurm}
VIMPNN_SLURM_PORT=${VIMPNN_SLURM_PORT:-16817}   # slurmctld; slurmd, slurmdbd and MariaDB use the next three
ROOT=$VIMPNN_SLURM_DIR
ETC=$ROOT/etc
RUN=$ROOT/run
LOG=$ROOT/log
MUNGE=$ROOT/munge
MYSQL=$ROOT/mysql
CTLD_PORT=$VIMPNN_SLURM_PORT
SLURMD_PORT=$((VIMPNN_SLURM_PORT + 1))
DBD_PORT=$((VIMPNN_SLURM_PORT + 2))
MYSQL_PORT=$((VIMPNN_SLURM_PORT + 3))
CLUSTER=vimpnn
NODE=vimpnn-node
ACCOUNT=vimpnn
# srun inside a job step gets no SLURM_CONF (snakemake's jobstep executor strips SLURM_* variables),
# so the configuration must also be readable at SLURM's default path: a symlink the scripts own.
SYSTEM_CONF=/etc/slurm/slurm.conf
export SLURM_CONF=$ETC/slurm.conf

log() { echo "[vimpnn-slurm] $*" >&2; }
die() { log "error: $*"; exit 1; }

# pid from a pid file if that process is still the named daemon (guards against recycled pids)
daemon_pid() {
    local pidfile=$1 name=$2 pid
    [ -s "$pidfile" ] || return 1
    pid=$(cat "$pidfile")
    [ -d "/proc/$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ] && echo "$pid"
}
