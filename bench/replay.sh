#!/usr/bin/env bash
# Side-by-side benchmark of `ctkit replay` on a synthetic capture in the page cache, against
# `tcpdump -r FILE -w /dev/null` (libpcap reading and writing the same file: the anchor).
# Also measures the capture reader alone (crates/capture/examples/capcount.rs).
# Prints a markdown table; rates are packets per second, ratio = ctkit rate / anchor rate.
#
#   bench/replay.sh [PACKETS] [CONCURRENT]   # default 10000000 packets, 1000 concurrent flows
#
# No root needed. The capture (10 packets per TCP connection, Ethernet, ~90 bytes/packet) is
# written to $TMPDIR (about 1.1 GB for 10 M packets) and removed on exit.
set -euo pipefail
N=${1:-10000000}
CONC=${2:-1000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
cargo build --release -q -p ctkit -p ctkit-capture --examples --bins
CTKIT=$ROOT/target/release/ctkit
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
PCAP=$WORK/synth.pcap
"$ROOT/target/release/examples/synth_pcap" "$PCAP" "$N" "$CONC"
cat "$PCAP" > /dev/null   # into the page cache

# best of 3 wall-clock seconds of a command (stdout to /dev/null)
best() {
  local best=""
  for _ in 1 2 3; do
    local s e
    s=$(date +%s.%N)
    "$@" > /dev/null 2>&1
    e=$(date +%s.%N)
    best=$(python3 -c "import sys; a=float(sys.argv[1]); b=sys.argv[2]; print(min(a, float(b)) if b else a)" "$(echo "$e - $s" | bc)" "$best")
  done
  echo "$best"
}
rate() { python3 -c "import sys; print('%.2f M/s' % (int(sys.argv[1]) / float(sys.argv[2]) / 1e6))" "$N" "$1"; }

anchor=$(best tcpdump -r "$PCAP" -w /dev/null)
reader=$(best "$ROOT/target/release/examples/capcount" "$PCAP")
table=$(best "$CTKIT" replay "$PCAP" --seed 1)
whatif=$(best "$CTKIT" replay "$PCAP" --seed 1 --what-if)
events=$(best "$CTKIT" replay "$PCAP" --seed 1 --events)

echo "$N packets, $CONC concurrent TCP connections, $(nproc) CPUs, $(uname -r)"
echo
echo "| command | seconds | rate | ratio vs anchor |"
echo "|---|---:|---:|---:|"
row() { python3 -c "import sys; n,t,a=int(sys.argv[2]),float(sys.argv[3]),float(sys.argv[4]); print('| %s | %.3f | %.2f M/s | %.2f |' % (sys.argv[1], t, n/t/1e6, a/t))" "$1" "$N" "$2" "$anchor"; }
row "tcpdump -r FILE -w /dev/null (anchor)" "$anchor"
row "capture reader alone (capcount)" "$reader"
row "ctkit replay FILE (final table)" "$table"
row "ctkit replay FILE --what-if (two passes)" "$whatif"
row "ctkit replay FILE --events" "$events"
