#!/usr/bin/env bash
# A one-node SLURM cluster for the tests (tests/workflow/test_slurm.py), without systemd: munge, slurmctld and
# slurmd started by hand as root from Debian's packages, all state under one folder.
#   tests/slurm/cluster.sh up   [STATE]   install (apt) if missing, write slurm.conf, start, wait until idle
#   tests/slurm/cluster.sh down [STATE]   stop the daemons by their pid files, remove STATE
# STATE (default /tmp/flexjudge-slurm) holds the daemons' spool, logs, pid files and munge key. The config goes
# to /etc/slurm/slurm.conf, where every client finds it: the executor plugin's job step drops SLURM_* variables
# (SLURM_CONF included) before its srun, so a config found only through SLURM_CONF breaks inside the jobs. A
# slurm.conf that this script did not write is never touched (`up` refuses).
# No slurmdbd: there is no accounting, so `sacct` reports nothing and status checks must use squeue.
set -euo pipefail
cmd=${1:?usage: cluster.sh up|down [STATE]}
state=${2:-/tmp/flexjudge-slurm}
conf=/etc/slurm/slurm.conf
marker="# written by flexjudge tests/slurm/cluster.sh"
ours() { [ -f "$conf" ] && head -1 "$conf" | grep -qxF "$marker"; }

stop() {  # by pid file: a stale /run pid file from a package's own start breaks its removal
  for name in slurmd slurmctld munged; do
    pid=$(cat "$state/$name.pid" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill "$pid" || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
  done
}

case $cmd in
up)
  [ "$(id -u)" = 0 ] || { echo "cluster.sh: must run as root (it starts munge and the SLURM daemons)" >&2; exit 2; }
  if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null 2>&1 || {
      apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null; }
  fi
  if [ -f "$conf" ] && ! ours; then
    echo "cluster.sh: $conf exists and is not ours; this machine has its own SLURM, so no test cluster" >&2; exit 3
  fi
  stop
  rm -rf "$state"; mkdir -p "$state"/{spool,ctld,munge,log} /etc/slurm
  chown munge:munge "$state/munge" 2>/dev/null || true
  # munge: our own key and socket, so a site's munged (if any) is left alone
  dd if=/dev/urandom of="$state/munge.key" bs=1024 count=1 status=none
  chmod 400 "$state/munge.key"; chown munge:munge "$state/munge.key" 2>/dev/null || true
  socket=$state/munge/munge.socket.2
  munged --force --key-file="$state/munge.key" --socket="$socket" --pid-file="$state/munged.pid" \
    --log-file="$state/log/munged.log" --seed-file="$state/munge/seed"
  node=$(hostname -s)
  read -r cpus mem < <(slurmd -C | awk '/^NodeName/ {for (i=1;i<=NF;i++) {split($i,kv,"="); v[kv[1]]=kv[2]} print v["CPUs"], v["RealMemory"]}')
  cat > "$conf" <<CONF
$marker
ClusterName=flexjudge-test
SlurmctldHost=$node
AuthType=auth/munge
AuthInfo=socket=$socket
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmdSpoolDir=$state/spool
StateSaveLocation=$state/ctld
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
SlurmUser=root
NodeName=$node CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=test Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF
  slurmctld
  slurmd
  for _ in $(seq 100); do
    if sinfo -h -o %T 2>/dev/null | grep -qx idle; then echo "cluster up: $conf"; exit 0; fi
    sleep 0.2
  done
  echo "cluster.sh: the node did not become idle; logs in $state/log" >&2
  sinfo >&2 || true
  exit 1
  ;;
down)
  [ -d "$state" ] && stop
  rm -rf "$state"
  if ours; then rm -f "$conf"; fi
  ;;
*)
  echo "usage: cluster.sh up|down [STATE]" >&2; exit 2
  ;;
esac
