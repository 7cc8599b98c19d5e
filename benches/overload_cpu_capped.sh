#!/usr/bin/env bash
# The overload scenario with the server short of CPU and the generator not: the server runs in a
# CPU cgroup capped at QUOTA_US per 10 ms (3000 = 0.3 cores) pinned to CPU 0, the generator on
# CPU 1. On a 2-core box this is the only way to overload the server without the generator
# saturating first (BENCHMARKS.md, "Overload, server short of CPU"). Needs root and a cgroup
# CPU controller (v1 or v2). Not run in CI.
#
# usage: benches/overload_cpu_capped.sh BIN QUOTA_US CALLS_PER_S OUT [serve flags...]
# e.g.   benches/overload_cpu_capped.sh target/release/switchboard 3000 3000 /tmp/o.txt --max-new-calls-per-s 400
set -euo pipefail
bin=$(realpath "$1"); quota_us=$2; rate=$3; out=$4; shift 4
period_us=10000
work=$(mktemp -d)
if [ -d /sys/fs/cgroup/cpu ]; then # cgroup v1
  cg=/sys/fs/cgroup/cpu/switchboard-overload
  mkdir -p "$cg"; echo $period_us > "$cg/cpu.cfs_period_us"; echo "$quota_us" > "$cg/cpu.cfs_quota_us"
else # cgroup v2
  cg=/sys/fs/cgroup/switchboard-overload
  mkdir -p "$cg"; echo "$quota_us $period_us" > "$cg/cpu.max"
fi
"$bin" loadgen center --agents 4800 --out "$work/center.toml" >/dev/null
bash -c "echo \$\$ > $cg/cgroup.procs; exec taskset -c 0 $bin serve --config $work/center.toml \
  --grpc-addr 127.0.0.1:7701 --http-addr 127.0.0.1:7702 --records-db $work/records.sqlite $*" \
  >"$work/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do curl -sf http://127.0.0.1:7702/healthz >/dev/null 2>&1 && break; sleep 0.1; done
status=0
taskset -c 1 "$bin" loadgen run --scenario overload --target 127.0.0.1:7701 --metrics-addr 127.0.0.1:7702 \
  --server-pid $server --duration-s 4 --agents 4800 --overload-calls-per-s "$rate" >"$out" 2>&1 || status=$?
echo "loadgen exit status $status" >>"$out"
