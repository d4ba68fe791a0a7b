#!/usr/bin/env bash
# Side-by-side benchmark of ctkit's conntrack(8) compat mode against Debian's conntrack 1.4.7
# and `cat /proc/net/nf_conntrack`, on a table of N IPv4 TCP entries in a private network
# namespace. Prints a markdown table (ratios are ctkit / anchor; < 1 means ctkit is faster).
#
#   sudo bench/compat.sh [N]        # default N=1000000; ROUNDS=3 runs of -R and -D per tool
#
# Shared set-up (root check, lock, namespace, nf_conntrack_max) comes from bench/lib.sh.
#
# Needs root, /usr/sbin/conntrack, GNU time. Raises nf_conntrack_max (global, initial namespace)
# under the project-wide test lock and restores it on exit.
set -euo pipefail
N=${1:-1000000}
. "$(dirname "$0")/lib.sh"
bench_init compat oracle
bench_setup "$N"

# N entries: src 198.51.100.(1 + i/60000):(1024 + i%60000) -> 203.0.113.1:80 (even i) / :443 (odd i)
python3 - "$N" "$WORK" <<'PY'
import sys
n, work = int(sys.argv[1]), sys.argv[2]
with open(f"{work}/all.txt", "w") as a, open(f"{work}/port80.txt", "w") as h:
    for i in range(n):
        src = f"198.51.100.{1 + i // 60000}"
        sport = 1024 + i % 60000
        dport = 80 if i % 2 == 0 else 443
        line = (f"-I -s {src} -d 203.0.113.1 -p tcp --sport {sport} --dport {dport} "
                f"--state ESTABLISHED -u ASSURED -t 7200\n")
        a.write(line)
        if dport == 80:
            h.write(line)
PY

# measure CMD... : prints "seconds maxrss_kb user_s sys_s" of one run
measure() {
  /usr/bin/time -f "%e %M %U %S" -o "$WORK/time" ip netns exec "$NS" "$@" >/dev/null 2>&1 || true
  tail -n 1 "$WORK/time"
}
# best of 3 runs (read-only commands): the fastest run (its user/sys), the highest RSS
best3() {
  local a b c
  a=$(measure "$@"); b=$(measure "$@"); c=$(measure "$@")
  pick "$a" "$b" "$c"
}
# pick RUN...: the fastest run with the highest RSS of all
pick() {
  local best maxrss
  best=$(printf '%s\n' "$@" | sort -n -k1,1 | head -n 1)
  maxrss=$(printf '%s\n' "$@" | sort -n -k2,2 | tail -n 1 | cut -d' ' -f2)
  echo "$best" | awk -v r="$maxrss" '{print $1, r, $3, $4}'
}
secs() { echo "$1" | cut -d' ' -f1; }
rss() { echo "$1" | cut -d' ' -f2; }
cpu() { echo "$1" | awk '{print $3 " / " $4}'; }
count() { in_ns "$ORACLE" -C; }

echo "# ctkit compat benchmark: N=$N IPv4 TCP entries"
echo
echo "machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r), $(date -u '+%F %H:%M') UTC, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| operation | anchor | anchor s | ctkit s | ratio | anchor user / sys s | ctkit user / sys s | ctkit peak RSS |"
echo "|---|---|---|---|---|---|---|---|"
row() { # LABEL ANCHOR A C
  echo "| $1 | $2 | $(secs "$3") | $(secs "$4") | $(ratio "$(secs "$4")" "$(secs "$3")") | $(cpu "$3") | $(cpu "$4") | $(rss "$4") KB |"
}

# -R load, best of ROUNDS (default 3) per tool: anchor, flush, ctkit, flush.
ROUNDS=${ROUNDS:-3}
ra=(); rc=()
for _ in $(seq "$ROUNDS"); do
  in_ns "$ORACLE" -F 2>/dev/null
  ra+=("$(measure "$ORACLE" -R "$WORK/all.txt")"); an=$(count)
  in_ns "$ORACLE" -F 2>/dev/null
  rc+=("$(measure "$CTKIT" -R "$WORK/all.txt")"); cn=$(count)
done
row "-R load ($an / $cn entries)" "conntrack -R" "$(pick "${ra[@]}")" "$(pick "${rc[@]}")"

# Listing (best of three runs each, interleaved per tool).
a=$(best3 "$ORACLE" -L)
p=$(best3 cat /proc/net/nf_conntrack)
c=$(best3 "$CTKIT" -L)
row "-L > /dev/null" "conntrack -L" "$a" "$c"
row "-L > /dev/null" "cat /proc/net/nf_conntrack" "$p" "$c"

# Count and stats.
row "-C" "conntrack -C" "$(best3 "$ORACLE" -C)" "$(best3 "$CTKIT" -C)"
row "-S" "conntrack -S" "$(best3 "$ORACLE" -S)" "$(best3 "$CTKIT" -S)"

# Filtered delete of half the table, best of ROUNDS: anchor, reload that half, ctkit,
# reload that half.
da=(); dc=()
for _ in $(seq "$ROUNDS"); do
  da+=("$(measure "$ORACLE" -D -p tcp --dport 80)"); after_a=$(count)
  in_ns "$ORACLE" -R "$WORK/port80.txt" >/dev/null 2>&1
  dc+=("$(measure "$CTKIT" -D -p tcp --dport 80)"); after_c=$(count)
  in_ns "$ORACLE" -R "$WORK/port80.txt" >/dev/null 2>&1
done
row "-D -p tcp --dport 80 ($((N / 2)) matches; left $after_a / $after_c)" "conntrack -D" "$(pick "${da[@]}")" "$(pick "${dc[@]}")"
echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
