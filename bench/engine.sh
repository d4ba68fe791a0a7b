#!/usr/bin/env bash
# Benchmark of the userspace connection tracker (crates/engine) against a plain HashMap
# anchor measured side by side in the same run: hit path with N live IPv4 TCP flows (plain
# and batched; packets scattered in memory and packets in arrival order in one buffer), new
# flows per second, bytes per flow; then the cache-resident CPU cost of a hit and of an entry
# creation. `target/release/examples/bench N hit` prints the hit-path rows alone.
# Prints a markdown table (ratios are engine / anchor; > 1 means the engine is faster).
# Rates are in on-CPU time of the measuring thread (/proc/thread-self/schedstat), so they do not
# shrink when other processes share the cores (perf's hardware counters are not available in
# this VM); hitloop and newloop print wall and CPU rates side by side.
#
#   bench/engine.sh [N]        # default N=1000000; no root needed, touches no kernel state
set -euo pipefail
N=${1:-1000000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
cargo build --release -q -p ctkit-engine --example bench --example hitloop --example newloop
echo "machine: $(nproc) CPU, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
./target/release/examples/bench "$N"
echo
echo "cache-resident hit path (1000 flows, 3000 rounds):"
./target/release/examples/hitloop 1000 3000
echo
echo "entry creation, 200,000 SYNs into an empty table, events off (3 runs):"
./target/release/examples/newloop 200000
