#!/usr/bin/env bash
# Stop the test cluster that start-cluster.sh started: cancel its jobs, stop its five daemons (by their pid
# files under VIMPNN_SLURM_DIR) and remove the /etc/slurm/slurm.conf symlink if it is ours. Idempotent.
# State (job ids, the accounting database) stays in VIMPNN_SLURM_DIR; delete that folder to start afresh.
set -euo pipefail
. "$(dirname "$0")/common.sh"

if daemon_pid "$RUN/slurmctld.pid" slurmctld >/dev/null; then
    jobs=$(squeue -h -o %i 2>/dev/null || true)
    [ -z "$jobs" ] || { log "cancelling jobs $jobs"; scancel $jobs || true; }
fi

stop() {
    local pidfile=$1 name=$2 pid i
    pid=$(daemon_pid "$pidfile" "$name") || { log "$name not running"; return 0; }
    kill "$pid"
    for i in $(seq 100); do [ -d "/proc/$pid" ] || break; sleep 0.2; done
    if [ -d "/proc/$pid" ]; then log "$name ($pid) ignored SIGTERM for 20 s: SIGKILL"; kill -9 "$pid"; fi
    log "$name stopped"
}
stop "$RUN/slurmd.pid" slurmd
stop "$RUN/slurmctld.pid" slurmctld
stop "$RUN/slurmdbd.pid" slurmdbd
stop "$MYSQL/mariadbd.pid" mariadbd
stop "$MUNGE/munged.pid" munged

if [ -L "$SYSTEM_CONF" ] && [ "$(readlink "$SYSTEM_CONF")" = "$ETC/slurm.conf" ]; then
    rm "$SYSTEM_CONF"
fi
