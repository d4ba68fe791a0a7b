#!/usr/bin/env bash
# Side-by-side benchmark of `ctkit replay` on a synthetic capture in the page cache, against
# `tcpdump -r FILE -w /dev/null` (libpcap reading and writing the same file: the anchor).
# Also measures the capture reader alone (crates/capture/examples/capcount.rs).
# Prints a markdown table: best of 3 wall and CPU (user+sys) seconds; ratio = CPU seconds /
# the anchor's CPU seconds (< 1: faster than libpcap merely copying the file).
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

# best of 3 runs of a command (stdout to /dev/null): "wall_seconds cpu_seconds" (cpu = user +
# sys; on a shared machine the CPU time is the stable figure, the wall time shows the load)
best() {
  local out=""
  for _ in 1 2 3; do
    /usr/bin/time -f "%e %U %S" -o "$WORK/time" "$@" > /dev/null 2>"$WORK/err" || { cat "$WORK/err" >&2; exit 1; }
    out="$out$(tail -n 1 "$WORK/time")
"
  done
  printf '%s' "$out" | python3 -c "
import sys
runs = [tuple(map(float, l.split())) for l in sys.stdin if l.strip()]
print(min(r[0] for r in runs), min(r[1] + r[2] for r in runs))"
}

anchor=$(best tcpdump -r "$PCAP" -w /dev/null)
reader=$(best "$ROOT/target/release/examples/capcount" "$PCAP")
table=$(best "$CTKIT" replay "$PCAP" --seed 1)
perpkt=$(best "$CTKIT" replay "$PCAP" --seed 1 --per-packet)
whatif=$(best "$CTKIT" replay "$PCAP" --seed 1 --what-if)
events=$(best "$CTKIT" replay "$PCAP" --seed 1 --events)

echo "$N packets ($CONC concurrent TCP connections, 100 µs apart), $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg), $(uname -r)"
echo
echo "| command | wall s | CPU s | M packets/s (CPU) | CPU ratio vs anchor |"
echo "|---|---:|---:|---:|---:|"
row() {
  python3 -c "
import sys
name, n = sys.argv[1], int(sys.argv[2])
w, c = map(float, sys.argv[3].split())
aw, ac = map(float, sys.argv[4].split())
print('| %s | %.2f | %.2f | %.2f | %.2f |' % (name, w, c, n / c / 1e6, c / ac))" "$1" "$N" "$2" "$anchor"
}
row "tcpdump -r FILE -w /dev/null (anchor)" "$anchor"
row "capture reader alone (capcount)" "$reader"
row "ctkit replay FILE (final table)" "$table"
row "ctkit replay FILE --per-packet" "$perpkt"
row "ctkit replay FILE --what-if (two passes)" "$whatif"
row "ctkit replay FILE --events" "$events"
