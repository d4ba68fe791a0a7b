#!/usr/bin/env bash
# Side-by-side benchmark of `ctkit watch` and `ctkit doctor` against what admins run today
# (`cat nf_conntrack_count`, `conntrack -C`, `conntrack -L | awk | sort | uniq -c`), on a table of
# N IPv4 TCP entries from 17 sources in a private network namespace. Prints a markdown table
# (ratios are ctkit / anchor; < 1 means ctkit is faster).
#
#   sudo bench/views.sh [N]        # default N=1000000
#
# Needs root, /usr/sbin/conntrack, GNU time. Raises nf_conntrack_max (global, initial namespace)
# under the project-wide test lock and restores it on exit.
set -euo pipefail
N=${1:-1000000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CTKIT=${CTKIT:-$ROOT/target/release/ctkit}
ORACLE=/usr/sbin/conntrack
[ "$(id -u)" = 0 ] || { echo "bench/views.sh: needs root" >&2; exit 2; }
[ -x "$ORACLE" ] || { echo "bench/views.sh: $ORACLE missing (apt-get install conntrack)" >&2; exit 2; }
if [ ! -x "$CTKIT" ]; then (cd "$ROOT" && cargo build --release -q -p ctkit); fi

LOCK=/run/lock/ctkit-tests.lock
[ -d /run/lock ] || LOCK=/tmp/ctkit-tests.lock
exec 9>"$LOCK"
flock 9

WORK=$(mktemp -d)
NS=ctkit-bench-views-$$
MAXF=/proc/sys/net/netfilter/nf_conntrack_max
OLD_MAX=$(cat $MAXF)
cleanup() {
  echo "$OLD_MAX" > $MAXF || true
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
want=$(( N + N / 4 ))
[ "$OLD_MAX" -ge "$want" ] || echo "$want" > $MAXF
ip netns add "$NS"
in_ns() { ip netns exec "$NS" "$@"; }

# N entries: src 198.51.100.(1 + i/60000):(1024 + i%60000) -> 203.0.113.1:80/443
python3 - "$N" "$WORK" <<'PY'
import sys
n, work = int(sys.argv[1]), sys.argv[2]
with open(f"{work}/all.txt", "w") as a:
    for i in range(n):
        a.write(f"-I -s 198.51.100.{1 + i // 60000} -d 203.0.113.1 -p tcp --sport {1024 + i % 60000} "
                f"--dport {80 if i % 2 == 0 else 443} --state ESTABLISHED -u ASSURED -t 7200\n")
PY
in_ns "$CTKIT" -R "$WORK/all.txt" >/dev/null 2>&1

measure() {
  /usr/bin/time -f "%e %M" -o "$WORK/time" ip netns exec "$NS" "$@" >/dev/null 2>&1 || true
  tail -n 1 "$WORK/time"
}
best3() {
  local a b c
  a=$(measure "$@"); b=$(measure "$@"); c=$(measure "$@")
  printf '%s\n%s\n%s\n' "$a" "$b" "$c" | sort -n -k1,1 | head -n 1 | cut -d' ' -f1 | tr '\n' ' '
  printf '%s\n%s\n%s\n' "$a" "$b" "$c" | sort -n -k2,2 | tail -n 1 | cut -d' ' -f2
}
secs() { echo "$1" | cut -d' ' -f1; }
rss() { echo "$1" | cut -d' ' -f2; }
ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f'{a/b:.2f}' if b>0 else 'n/a')" "$1" "$2"; }

echo "# ctkit watch/doctor benchmark: N=$(in_ns "$ORACLE" -C) IPv4 TCP entries, 17 sources"
echo
echo "machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r), $(date -u +%F)"
echo
echo "| operation | anchor | anchor s | ctkit s | ratio | ctkit peak RSS |"
echo "|---|---|---|---|---|---|"

row() { # label anchor-label anchor-result ctkit-result
  echo "| $1 | $2 | $(secs "$3") | $(secs "$4") | $(ratio "$(secs "$4")" "$(secs "$3")") | $(rss "$4") KB |"
}

# One sample of count/max/counters, no dump (what watch does every interval at this size).
p=$(best3 cat /proc/sys/net/netfilter/nf_conntrack_count)
a=$(best3 "$ORACLE" -C)
c=$(best3 "$CTKIT" watch --count 1 --proto-every 0 --csv)
row "watch sample, no dump" "cat nf_conntrack_count" "$p" "$c"
row "watch sample, no dump" "conntrack -C" "$a" "$c"

# One sample with per-protocol counts (one dump).
a=$(best3 sh -c "$ORACLE -L 2>/dev/null | awk '{print \$1}' | sort | uniq -c")
c=$(best3 "$CTKIT" watch --count 1 --proto-every 1 --csv)
row "watch sample with per-protocol counts" "conntrack -L \| awk \| sort \| uniq -c" "$a" "$c"

# Doctor's table pass (top sources/states) against the usual top-sources pipeline.
a=$(best3 sh -c "$ORACLE -L 2>/dev/null | awk '{for(i=1;i<=NF;i++) if (\$i ~ /^src=/) {print \$i; break}}' | sort | uniq -c | sort -rn | head -5")
c=$(best3 "$CTKIT" doctor --no-sample --log none)
row "doctor --no-sample --log none" "conntrack -L \| awk \| sort \| uniq -c \| sort \| head" "$a" "$c"

# With the kernel log (/dev/kmsg) against the pipeline plus `dmesg | grep`.
a=$(best3 sh -c "$ORACLE -L 2>/dev/null | awk '{for(i=1;i<=NF;i++) if (\$i ~ /^src=/) {print \$i; break}}' | sort | uniq -c | sort -rn | head -5; dmesg | grep -E 'nf_conntrack|nf_ct_|callbacks suppressed'")
c=$(best3 "$CTKIT" doctor --no-sample --log kmsg)
row "doctor --no-sample --log kmsg" "the same pipeline; dmesg \| grep" "$a" "$c"
