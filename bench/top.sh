#!/usr/bin/env bash
# Side-by-side benchmark of `ctkit top` against iptstate 2.2.7 on the same table, in a private
# network namespace. Prints a markdown report.
#
#   sudo bench/top.sh [N] [M]      # N entries for the CPU comparison (default 100000),
#                                  # M entries for the scale check (default 1000000; 0 skips)
#   NAT=1 sudo bench/top.sh 0 1000000   # every entry DNATed (reply from 192.0.2.10:8080):
#                                  # the NAT gateway case, where rows also carry reply tuples
#
# 1. CPU per refresh at N entries: `iptstate -1` vs `ctkit top -1`, each run inside a pty
#    (`script`, 200x50) because iptstate's -1 writes spaces without end when stdout is not a
#    terminal; user+sys and peak RSS from GNU time wrapped around the tool alone; best of 3.
#    Also `ctkit top -1 > /dev/null` (no terminal: plain text, every value whole).
#    Then the live screens side by side in tmux (-R 1, 20 s each): CPU seconds used per
#    second of wall time (utime+stime from /proc/PID/stat). Both tools wait R seconds after
#    a refresh ends, so the faster one refreshes more often: this is CPU load, not per refresh.
# 2. Scale at M entries: `ctkit top -1 > file` (every row printed: line count), and the live
#    screen in tmux: first table shown, End reaches line M, peak RSS (VmHWM) after 5 refreshes.
#
# Needs root, iptstate, /usr/sbin/conntrack, tmux, script (util-linux), GNU time. Raises
# nf_conntrack_max (global, initial namespace) under the project-wide test lock and restores
# it on exit.
set -euo pipefail
N=${1:-100000}
M=${2:-1000000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CTKIT=${CTKIT:-$ROOT/target/release/ctkit}
ORACLE=/usr/sbin/conntrack
IPTSTATE=$(command -v iptstate || echo /usr/sbin/iptstate)
[ "$(id -u)" = 0 ] || { echo "bench/top.sh: needs root" >&2; exit 2; }
for t in "$ORACLE" "$IPTSTATE" /usr/bin/time; do
  [ -x "$t" ] || { echo "bench/top.sh: $t missing" >&2; exit 2; }
done
command -v tmux >/dev/null && command -v script >/dev/null || { echo "bench/top.sh: needs tmux and script" >&2; exit 2; }
if [ ! -x "$CTKIT" ]; then (cd "$ROOT" && cargo build --release -q -p ctkit); fi

LOCK=/run/lock/ctkit-tests.lock
[ -d /run/lock ] || LOCK=/tmp/ctkit-tests.lock
exec 9>"$LOCK"
flock 9

WORK=$(mktemp -d)
# Not named ctkit-*-*: scripts/test.sh removes such namespaces when their "pid" is dead.
NS=topbench-$$
TMUX_SOCK=ctkit-bench-top-$$
MAXF=/proc/sys/net/netfilter/nf_conntrack_max
OLD_MAX=$(cat $MAXF)
cleanup() {
  tmux -L "$TMUX_SOCK" kill-server 2>/dev/null || true
  echo "$OLD_MAX" > $MAXF || true
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
BIG=$(( N > M ? N : M ))
want=$(( BIG + BIG / 4 ))
[ "$OLD_MAX" -ge "$want" ] || echo "$want" > $MAXF
ip netns add "$NS"
in_ns() { ip netns exec "$NS" "$@"; }

# K entries, as bench/compat.sh: src 198.51.100.(1 + i/60000):(1024 + i%60000) -> 203.0.113.1:80/443
gen() {
  python3 - "$1" "$2" "${NAT:-0}" <<'PY'
import sys
n, out, nat = int(sys.argv[1]), sys.argv[2], sys.argv[3] == "1"
with open(out, "w") as a:
    for i in range(n):
        src, sport, dport = f"198.51.100.{1 + i // 60000}", 1024 + i % 60000, 80 if i % 2 == 0 else 443
        line = (f"-I -s {src} -d 203.0.113.1 -p tcp --sport {sport} "
                f"--dport {dport} --state ESTABLISHED -u ASSURED -t 7200")
        if nat:
            line += f" -r 192.0.2.10 -q {src} --reply-port-src 8080 --reply-port-dst {sport}"
        a.write(line + "\n")
PY
}
load() { in_ns "$ORACLE" -F 2>/dev/null || true; gen "$1" "$WORK/load.txt"; in_ns "$ORACLE" -R "$WORK/load.txt" >/dev/null 2>&1; in_ns "$ORACLE" -C; }

# cpu_pty CMD...: "cpu_seconds maxrss_kb" of CMD run with its stdout on a 200x50 pty
cpu_pty() {
  local q; q=$(printf '%q ' "$@")
  in_ns timeout 300 script -qec "stty cols 200 rows 50; /usr/bin/time -f '%U %S %M' -o $WORK/t $q" /dev/null >/dev/null 2>&1 || true
  awk '{printf "%.2f %s\n", $1 + $2, $3}' "$WORK/t"
}
# cpu_file CMD...: same with stdout to /dev/null
cpu_file() {
  /usr/bin/time -f '%U %S %M' -o "$WORK/t" ip netns exec "$NS" "$@" >/dev/null 2>&1 || true
  awk '{printf "%.2f %s\n", $1 + $2, $3}' "$WORK/t"
}
best3() { { "$@"; "$@"; "$@"; "$@"; "$@"; } | sort -n -k1,1 | head -n 1; }
ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f'{a/b:.2f}' if b>0 else 'n/a')" "$1" "$2"; }

# live CMD...: runs CMD in tmux (200x50) in the namespace for 20 s; prints "cpu_s refreshes"
# (refreshes = 20 / period, period 1 s for both tools).
tm() { tmux -L "$TMUX_SOCK" "$@"; }
live_cpu() {
  tm kill-server 2>/dev/null || true
  tm new-session -d -s b -x 200 -y 50 "ip netns exec $NS $*"
  sleep 2
  local pid; pid=$(pgrep -n -f "^$1" || true)
  [ -n "$pid" ] || { echo "n/a 0"; return; }
  local t0 t1; t0=$(awk '{print $14 + $15}' /proc/$pid/stat)
  sleep 20
  t1=$(awk '{print $14 + $15}' /proc/$pid/stat)
  tm kill-server 2>/dev/null || true
  python3 -c "import sys; print(f'{(int(sys.argv[2])-int(sys.argv[1]))/100:.2f} 20')" "$t0" "$t1"
}

echo "# ctkit top benchmark"
echo
echo "machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r), $(date -u +%F), iptstate $($IPTSTATE -v 2>&1 | awk '{print $NF; exit}')"
echo
[ "${NAT:-0}" = 1 ] && echo "(NAT=1: every entry DNATed)" && echo
if [ "$N" -gt 0 ]; then
n_loaded=$(load "$N" | grep -o '[0-9]*' | head -n 1)
echo "## CPU per refresh at N=$N entries (loaded: $n_loaded)"
echo
echo "| run | iptstate cpu s | ctkit cpu s | ratio | iptstate RSS | ctkit RSS |"
echo "|---|---|---|---|---|---|"
i=$(best3 cpu_pty "$IPTSTATE" -1)
c=$(best3 cpu_pty "$CTKIT" top -1)
echo "| -1 on a 200x50 pty (best of 5) | ${i% *} | ${c% *} | $(ratio "${c% *}" "${i% *}") | ${i#* } KB | ${c#* } KB |"
f=$(best3 cpu_file "$CTKIT" top -1)
echo "| ctkit top -1 > /dev/null (best of 5) | | ${f% *} | | | ${f#* } KB |"
li=$(live_cpu "$IPTSTATE" -R 1)
lc=$(live_cpu "$CTKIT" top -R 1)
pi=$(python3 -c "import sys; print(f'{float(sys.argv[1])/20:.3f}')" "${li% *}")
pc=$(python3 -c "import sys; print(f'{float(sys.argv[1])/20:.3f}')" "${lc% *}")
echo "| live screen -R 1 in tmux 200x50, 20 s: cpu s per wall s (not per refresh) | $pi | $pc | $(ratio "$pc" "$pi") | | |"
echo
fi

if [ "$M" -gt 0 ]; then
  m_loaded=$(load "$M" | grep -o '[0-9]*' | head -n 1)
  echo "## Scale at M=$M entries (loaded: $m_loaded)"
  echo
  /usr/bin/time -f '%e %U %S %M' -o "$WORK/t" ip netns exec "$NS" "$CTKIT" top -1 > "$WORK/out.txt"
  read -r wall usr sys rss < "$WORK/t"
  lines=$(wc -l < "$WORK/out.txt")
  echo "- \`ctkit top -1 > file\`: ${wall} s wall, $(python3 -c "print(f'{$usr+$sys:.2f}')") s cpu, peak RSS ${rss} KB, $((lines - 2)) rows printed (of $m_loaded)"
  tm kill-server 2>/dev/null || true
  tm new-session -d -s b -x 200 -y 50 "ip netns exec $NS $CTKIT top -R 1"
  t0=$(date +%s.%N)
  for _ in $(seq 1 600); do
    tm capture-pane -p -t b | grep -q "of $m_loaded " && break
    sleep 0.1
  done
  t1=$(date +%s.%N)
  first=$(python3 -c "print(f'{$t1-$t0:.1f}')")
  # Key latency while refreshes run (a 1M scan takes seconds, the screen refreshes every
  # second): End then Home, 10 times each, time from send-keys to the line on screen.
  lat=$(python3 - "$TMUX_SOCK" "$m_loaded" <<'PY'
import subprocess, sys, time
sock, m = sys.argv[1], sys.argv[2]
def cap():
    return subprocess.run(["tmux", "-L", sock, "capture-pane", "-p", "-t", "b"], capture_output=True, text=True).stdout
worst, total, n = 0.0, 0.0, 0
for i in range(20):
    key, want = ("End", f"(line {m})") if i % 2 == 0 else ("Home", "(line 1)")
    t0 = time.monotonic()
    subprocess.run(["tmux", "-L", sock, "send-keys", "-t", "b", key])
    while want not in cap():
        if time.monotonic() - t0 > 5:
            break
    dt = (time.monotonic() - t0) * 1000
    worst, total, n = max(worst, dt), total + dt, n + 1
    time.sleep(0.25)
print(f"{total / n:.0f} ms mean, {worst:.0f} ms worst")
PY
)
  tm send-keys -t b End
  sleep 1
  endline=$(tm capture-pane -p -t b | grep -o "Lines .*" || true)
  sleep 5
  pid=$(pgrep -n -f "^$CTKIT top" || true)
  hwm=$(awk '/VmHWM/{print $2}' /proc/$pid/status 2>/dev/null || echo n/a)
  tm kill-server 2>/dev/null || true
  echo "- live screen: first table after ${first} s; End shows \`${endline}\`; key to screen (End/Home x10 while refreshing, includes tmux capture): ${lat}; peak RSS (VmHWM) after 5 more s: ${hwm} KB"
fi
