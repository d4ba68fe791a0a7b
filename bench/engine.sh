#!/usr/bin/env bash
# Benchmark of the userspace connection tracker (crates/engine) against a plain HashMap
# anchor measured side by side in the same run: hit path with N live IPv4 TCP flows (plain
# and batched), new flows per second, bytes per flow; then the cache-resident CPU cost of a hit
# and of an entry creation.
# Prints a markdown table (ratios are engine / anchor; > 1 means the engine is faster).
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
