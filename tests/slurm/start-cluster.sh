#!/usr/bin/env bash
# A real single-node SLURM cluster on this machine for the `slurm` tests (needs root and Debian's
# slurmctld slurmd slurmdbd slurm-client munge mariadb-server: `make slurm` installs them).
#
# One node with this machine's CPUs and memory (`slurmd -C`), a `cpu` partition and a `gpu` partition on
# it; the node offers one stand-in GPU (gres.conf names /dev/null) so that `--gpus=1` jobs are scheduled
# exactly as on a real GPU node, while the job itself finds no CUDA device. Job accounting (`sacct`, which
# snakemake-executor-plugin-slurm queries for job states) goes through slurmdbd into a private MariaDB.
# Daemons, state, logs and the munge key live under VIMPNN_SLURM_DIR (default /var/tmp/vimpnn-slurm);
# everything listens on 127.0.0.1 (ports VIMPNN_SLURM_PORT..+3, default 16817..16820) or a socket there.
# Outside that folder only the symlink /etc/slurm/slurm.conf is written (never over a foreign file).
#
# Idempotent: daemons already running are left alone. Ends when `sinfo` shows the node idle.
# Clients need `export SLURM_CONF=$VIMPNN_SLURM_DIR/etc/slurm.conf` (or read the symlink).
set -euo pipefail
. "$(dirname "$0")/common.sh"

[ "$(id -u)" = 0 ] || die "must run as root (it starts munged, MariaDB and the SLURM daemons)"
for cmd in slurmctld slurmd slurmdbd sbatch sacct munged mariadbd mariadb-install-db; do
    command -v "$cmd" >/dev/null || die "$cmd not found: install Debian's slurmctld slurmd slurmdbd slurm-client munge mariadb-server (make slurm)"
done
if [ -e "$SYSTEM_CONF" ] && [ "$(readlink "$SYSTEM_CONF" || true)" != "$ETC/slurm.conf" ]; then
    die "$SYSTEM_CONF exists and is not this test cluster's: refusing to replace another SLURM configuration"
fi

mkdir -p "$ETC" "$RUN" "$LOG" "$ROOT/spool/ctld" "$ROOT/spool/d" "$MUNGE" "$MYSQL"
chmod 755 "$ROOT" "$ETC" "$RUN" "$LOG"
chown munge:munge "$MUNGE" && chmod 755 "$MUNGE"  # munged wants its socket folder searchable by all
chown mysql:mysql "$MYSQL" && chmod 750 "$MYSQL"

# (re)write a file only when its content changes; a change restarts daemons that read the old one
changed=
write() {
    local path=$1 mode=$2 tmp
    tmp=$(mktemp "$path.XXXXXX")
    cat > "$tmp"
    chmod "$mode" "$tmp"
    if cmp -s "$tmp" "$path"; then rm "$tmp"; else mv "$tmp" "$path"; changed=1; fi
}

# --- configuration -------------------------------------------------------------------------------------
read -r cpus mem < <(slurmd -C | sed -n 's/.* CPUs=\([0-9]*\) .* RealMemory=\([0-9]*\).*/\1 \2/p')
[ -n "${cpus:-}" ] && [ -n "${mem:-}" ] || die "slurmd -C did not report CPUs and RealMemory"
[ -s "$ETC/dbpass" ] || (umask 077 && head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$ETC/dbpass")
dbpass=$(cat "$ETC/dbpass")

write "$ETC/slurm.conf" 644 <<CONF
# written by tests/slurm/start-cluster.sh
ClusterName=$CLUSTER
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
CommunicationParameters=NoInAddrAny,NoCtldInAddrAny
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE/munge.socket.2
StateSaveLocation=$ROOT/spool/ctld
SlurmdSpoolDir=$ROOT/spool/d
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=$LOG/slurmctld.log
SlurmdLogFile=$LOG/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
ReturnToService=2
MinJobAge=300
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=5
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$DBD_PORT
# clients reach slurmdbd through the munge socket named here (AuthInfo covers slurmctld and slurmd)
AccountingStoragePass=$MUNGE/munge.socket.2
AccountingStorageTRES=gres/gpu
# sacct shows the rule and wildcards Snakemake puts into each job's --comment
AccountingStoreFlags=job_comment
GresTypes=gpu
NodeName=$NODE NodeAddr=127.0.0.1 NodeHostname=$(hostname -s) CPUs=$cpus RealMemory=$mem Gres=gpu:1 State=UNKNOWN
PartitionName=cpu Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=$NODE MaxTime=INFINITE State=UP
CONF
write "$ETC/gres.conf" 644 <<CONF
# one stand-in GPU (SLURM drops a GPU without a device file; /dev/null is only named, never confined
# since TaskPlugin=task/none): --gpus=1 is scheduled as on a GPU node, the job finds no CUDA device
NodeName=$NODE Name=gpu File=/dev/null
CONF
write "$ETC/slurmdbd.conf" 600 <<CONF
# written by tests/slurm/start-cluster.sh
AuthType=auth/munge
AuthInfo=socket=$MUNGE/munge.socket.2
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$DBD_PORT
CommunicationParameters=NoInAddrAny,NoCtldInAddrAny
SlurmUser=root
LogFile=$LOG/slurmdbd.log
PidFile=$RUN/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$MYSQL_PORT
StorageUser=slurm
StoragePass=$dbpass
StorageLoc=slurm_acct_db
CONF
if [ -n "$changed" ] && { daemon_pid "$RUN/slurmctld.pid" slurmctld || daemon_pid "$RUN/slurmdbd.pid" slurmdbd; } >/dev/null; then
    log "configuration changed: restarting the SLURM daemons"
    "$(dirname "$0")/stop-cluster.sh"
fi
mkdir -p "$(dirname "$SYSTEM_CONF")"
ln -sfn "$ETC/slurm.conf" "$SYSTEM_CONF"

wait_for() {  # wait_for SECONDS WHAT COMMAND...: until COMMAND succeeds
    local limit=$1 what=$2 deadline=$((SECONDS + $1))
    shift 2
    until timeout 10 "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || die "$what not up after $limit s (logs in $LOG, $MUNGE, $MYSQL)"
        sleep 0.2
    done
}

# --- munge: its own key and socket -------------------------------------------------------------------
if [ ! -s "$MUNGE/munge.key" ]; then
    (umask 077 && head -c 1024 /dev/urandom > "$MUNGE/munge.key")
    chown munge:munge "$MUNGE/munge.key"
fi
if ! daemon_pid "$MUNGE/munged.pid" munged >/dev/null; then
    log "starting munged"
    runuser -u munge -- munged --socket="$MUNGE/munge.socket.2" --key-file="$MUNGE/munge.key" \
        --pid-file="$MUNGE/munged.pid" --log-file="$MUNGE/munged.log" --seed-file="$MUNGE/munged.seed"
fi
wait_for 20 munged sh -c "munge -S '$MUNGE/munge.socket.2' -n | unmunge -S '$MUNGE/munge.socket.2'"

# --- MariaDB for slurmdbd ------------------------------------------------------------------------------
mysql_args=(--no-defaults --datadir="$MYSQL/data" --socket="$MYSQL/mysqld.sock" --port="$MYSQL_PORT"
            --bind-address=127.0.0.1 --pid-file="$MYSQL/mariadbd.pid" --log-error="$MYSQL/mariadbd.log"
            --innodb-buffer-pool-size=32M --skip-log-bin --performance-schema=OFF)
if [ ! -d "$MYSQL/data/mysql" ]; then
    log "initialising MariaDB in $MYSQL/data"
    runuser -u mysql -- mariadb-install-db --no-defaults --datadir="$MYSQL/data" --auth-root-authentication-method=socket \
        --skip-test-db > "$MYSQL/install.log" 2>&1 || die "mariadb-install-db failed (see $MYSQL/install.log)"
fi
if ! daemon_pid "$MYSQL/mariadbd.pid" mariadbd >/dev/null; then
    log "starting MariaDB on 127.0.0.1:$MYSQL_PORT"
    runuser -u mysql -- setsid mariadbd "${mysql_args[@]}" < /dev/null > /dev/null 2>&1 &
fi
wait_for 60 MariaDB mariadb --no-defaults --socket="$MYSQL/mysqld.sock" -e "SELECT 1"
mariadb --no-defaults --socket="$MYSQL/mysqld.sock" <<SQL
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$dbpass';
ALTER USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$dbpass';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
SQL

# --- SLURM daemons ---------------------------------------------------------------------------------------
if ! daemon_pid "$RUN/slurmdbd.pid" slurmdbd >/dev/null; then
    log "starting slurmdbd on 127.0.0.1:$DBD_PORT"
    slurmdbd
fi
wait_for 60 slurmdbd sacctmgr -n list cluster

# the account a profile names (slurm_account), with the submitting user(s) in it
[ -n "$(sacctmgr -n list cluster "$CLUSTER" format=cluster)" ] || sacctmgr -i add cluster "$CLUSTER" >/dev/null
[ -n "$(sacctmgr -n list account "$ACCOUNT" format=account)" ] || sacctmgr -i add account "$ACCOUNT" cluster="$CLUSTER" >/dev/null
for user in $(id -un) ${SUDO_USER:-}; do
    [ -n "$(sacctmgr -n list assoc user="$user" account="$ACCOUNT" format=user)" ] ||
        sacctmgr -i add user "$user" account="$ACCOUNT" cluster="$CLUSTER" >/dev/null
done

if ! daemon_pid "$RUN/slurmctld.pid" slurmctld >/dev/null; then
    log "starting slurmctld on 127.0.0.1:$CTLD_PORT"
    slurmctld
fi
wait_for 60 slurmctld scontrol ping
if ! daemon_pid "$RUN/slurmd.pid" slurmd >/dev/null; then
    log "starting slurmd ($NODE, $cpus CPUs, $mem MB) on 127.0.0.1:$SLURMD_PORT"
    slurmd -N "$NODE"
fi

node_state() { sinfo -h -n "$NODE" -o %T | head -1; }
for i in $(seq 300); do
    state=$(node_state || true)
    case $state in
        idle|mixed|allocated) break ;;
        down*|drain*) scontrol update nodename="$NODE" state=resume 2>/dev/null || true ;;
    esac
    sleep 0.2
done
[ "$(node_state)" = idle ] || [ "$(node_state)" = mixed ] || [ "$(node_state)" = allocated ] ||
    die "node $NODE is '$(node_state)' after 60 s (see $LOG/slurmd.log and $LOG/slurmctld.log)"
log "cluster $CLUSTER up: $(sinfo -h -o '%P %D %c %m %G %T' | tr '\n' ';') SLURM_CONF=$SLURM_CONF"
