#!/usr/bin/env bash
# Runs a small `acceltran sweep --backend slurm` through a real single-node Slurm on localhost:
# installs Debian's slurm-wlm and munge, starts munged, slurmctld and slurmd (private sockets,
# ports and folders, so nothing else on the machine is touched), submits the sweep with
# sbatch, waits for the job array, collects, checks results.csv, and stops the daemons.
# Where Slurm cannot start here (no root, no apt, a daemon refuses to come up) it prints why
# and exits 0; a sweep that runs but gives wrong results fails (exit 1).
# Usage: bash .ci/slurm-test.sh [path/to/acceltran]   (run as root)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(readlink -f "${1:-build/bin/acceltran}")
[ -x "$bin" ] || { echo "error: $bin not found; build first" >&2; exit 1; }

skip() { echo "slurm-test: SKIPPED: $*"; exit 0; }
fail() { echo "slurm-test: FAILED: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || skip "needs root to install and start munge and Slurm"
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  command -v apt-get >/dev/null || skip "slurm-wlm/munge not installed and no apt-get"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update && apt-get install -y --no-install-recommends slurm-wlm munge; } >/dev/null ||
    skip "apt-get could not install slurm-wlm and munge"
fi

work=$(mktemp -d /tmp/acceltran-slurm-XXXXXX)
chmod 755 "$work"
pids=()
stop() {
  # Stop only the daemons started here, by their process ids.
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  done
}
trap 'stop; rm -rf "$work"' EXIT

# munge: its own key, socket, pid and log files.
mkdir -p "$work/munge"
chmod 700 "$work/munge"
dd if=/dev/urandom of="$work/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$work/munge/munge.key"
sock="$work/munge/munge.socket"
munged --force --socket="$sock" --key-file="$work/munge/munge.key" \
  --pid-file="$work/munge/munged.pid" --log-file="$work/munge/munged.log" \
  --seed-file="$work/munge/munged.seed" ||
  skip "munged does not start: $(tail -n 3 "$work/munge/munged.log" 2>/dev/null)"
for _ in $(seq 50); do [ -s "$work/munge/munged.pid" ] && break; sleep 0.1; done
pids+=("$(cat "$work/munge/munged.pid")")

# Slurm: one node (this host), root, no cgroups (Debian's 22.05: write no cgroup.conf).
host=$(hostname)
port=$((20000 + RANDOM % 20000))
mkdir -p "$work/state" "$work/spool" "$work/log"
cat >"$work/slurm.conf" <<EOF
ClusterName=acceltran-ci
SlurmctldHost=$host
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$sock
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MpiDefault=none
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
NodeName=$host CPUs=$(nproc) State=UNKNOWN
PartitionName=ci Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$work/slurm.conf
slurmctld -i ||
  skip "slurmctld does not start: $(tail -n 5 "$work/log/slurmctld.log" 2>/dev/null)"
for _ in $(seq 50); do [ -s "$work/slurmctld.pid" ] && break; sleep 0.1; done
[ -s "$work/slurmctld.pid" ] || skip "slurmctld exited: $(tail -n 5 "$work/log/slurmctld.log")"
pids+=("$(cat "$work/slurmctld.pid")")
slurmd || skip "slurmd does not start: $(tail -n 5 "$work/log/slurmd.log" 2>/dev/null)"
for _ in $(seq 50); do [ -s "$work/slurmd.pid" ] && break; sleep 0.1; done
[ -s "$work/slurmd.pid" ] || skip "slurmd exited: $(tail -n 5 "$work/log/slurmd.log")"
pids+=("$(cat "$work/slurmd.pid")")
state=
for _ in $(seq 100); do
  state=$(sinfo -h -N -o '%T' 2>/dev/null | head -n 1)
  [ "$state" = idle ] && break
  sleep 0.2
done
[ "$state" = idle ] || skip "the Slurm node does not become idle (state '$state'): \
$(tail -n 5 "$work/log/slurmd.log")"
echo "slurm-test: munged, slurmctld and slurmd up on $host (port $port)"

# A 6-point sweep (one deliberately failing point) in 3 array tasks of 2 points.
cat >"$work/spec.yaml" <<'EOF'
model: bert-tiny
accelerator: edge
fixed: {--timeline-samples: 20}
grid:
  pe: [64, 128]
  --sparsity: [0.3, 0.5]
points:
  - {pe: 256, main_memory.type: hbm, main_memory.ranks: 1, main_memory.channels: 4}
  - {pe: 64, --lookahead: 0}
EOF
out=$work/sweep
"$bin" sweep "$work/spec.yaml" --out "$out" --backend slurm --points-per-task 2 \
  --slurm-opt=--time=00:10:00 | tee "$work/submit.txt"
job=$(cat "$out/slurm/job_id")
[ -n "$job" ] || fail "no job id from sbatch"
for _ in $(seq 600); do
  [ -z "$(squeue -h -j "$job" 2>/dev/null)" ] && break
  sleep 0.5
done
[ -z "$(squeue -h -j "$job" 2>/dev/null)" ] && echo "slurm-test: job array $job finished" ||
  fail "job array $job still queued or running after 300 s: $(squeue -j "$job")"
set +e
"$bin" sweep collect "$out" | tee "$work/collect.txt"
set -e
grep -q "6 points, 5 ok, 1 failed, 0 missing" "$work/collect.txt" ||
  fail "expected 5 ok and 1 failed point; task logs: $(cat "$out"/slurm/task-*.out)"
rows=$(($(wc -l <"$out/results.csv") - 1))
[ "$rows" = 6 ] || fail "results.csv has $rows rows, expected 6"
grep -q "option --lookahead: value 0 must be > 0" "$out/results.csv" ||
  fail "the failing point's error is not in results.csv"
ls "$out"/slurm/task-*.out >/dev/null || fail "no array task logs"
echo "slurm-test: PASSED ($(ls "$out"/slurm/task-*.out | wc -l) array tasks, $rows rows)"
