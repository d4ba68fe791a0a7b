#!/usr/bin/env bash
# Side-by-side benchmark of `ctkit summary --by src` on a table of N entries in a private
# network namespace, against the admins' recipe on the same namespace's /proc/net/nf_conntrack
#   sed -ne 's/^.*src=\([^ ]*\).*/\1/p' /proc/net/nf_conntrack | sort | uniq -c | sort -r | head
# and against our own `ctkit -L > /dev/null` (the dump summary streams through). With
# --from FILE support, also over a saved copy of /proc/net/nf_conntrack.
# Prints a markdown table; every timing is the best of 3 runs, the tools interleaved per round.
#
#   sudo bench/summary.sh [N]        # default N=1000000
#
# Needs root, python3, GNU time. Raises nf_conntrack_max (global, initial namespace) under
# the project-wide test lock and restores it on exit.
set -euo pipefail
N=${1:-1000000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CTKIT=${CTKIT:-$ROOT/target/release/ctkit}
[ "$(id -u)" = 0 ] || { echo "bench/summary.sh: needs root" >&2; exit 2; }
if [ ! -x "$CTKIT" ]; then (cd "$ROOT" && cargo build --release -q -p ctkit); fi

LOCK=/run/lock/ctkit-tests.lock
[ -d /run/lock ] || LOCK=/tmp/ctkit-tests.lock
exec 9>"$LOCK"
flock 9

WORK=$(mktemp -d)
NS=sumbench-$$   # not ctkit-*: test clean-ups remove stale ctkit-* namespaces
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

# N entries from 762 documentation sources (192.0.2.1-254, 198.51.100.1-254, 203.0.113.1-254):
# even i TCP ESTABLISHED ASSURED to :443, odd i UDP UNREPLIED to :53.
python3 - "$N" "$WORK" <<'PY'
import sys
n, work = int(sys.argv[1]), sys.argv[2]
nets = ["192.0.2", "198.51.100", "203.0.113"]
with open(f"{work}/all.txt", "w") as a:
    for i in range(n):
        k = i % 762
        src = f"{nets[k // 254]}.{1 + k % 254}"
        sport = 1024 + i // 762
        if i % 2 == 0:
            a.write(f"-I -s {src} -d 198.51.100.255 -p tcp --sport {sport} --dport 443 "
                    f"--state ESTABLISHED -u SEEN_REPLY,ASSURED -t 7200\n")
        else:
            a.write(f"-I -s {src} -d 198.51.100.255 -p udp --sport {sport} --dport 53 -t 7200\n")
PY
in_ns "$CTKIT" -R "$WORK/all.txt" >/dev/null 2>&1
count=$(in_ns "$CTKIT" -C)
[ "$count" -eq "$N" ] || { echo "bench/summary.sh: loaded $count of $N entries" >&2; exit 1; }
in_ns cat /proc/net/nf_conntrack > "$WORK/proc.txt"

RECIPE="sed -ne 's/^.*src=\\([^ ]*\\).*/\\1/p' /proc/net/nf_conntrack | sort | uniq -c | sort -r | head"
RECIPE_FILE="sed -ne 's/^.*src=\\([^ ]*\\).*/\\1/p' $WORK/proc.txt | sort | uniq -c | sort -r | head"

# Does this build read saved /proc files (--from FILE)?
head -n 100 "$WORK/proc.txt" > "$WORK/small.txt"
FROM_FILE=no
"$CTKIT" summary --by src --from "$WORK/small.txt" >/dev/null 2>&1 && FROM_FILE=yes

# measure NAME CMD... : appends "seconds maxrss_kb" of one run to $WORK/NAME
measure() {
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$WORK/time" ip netns exec "$NS" "$@" >/dev/null 2>&1 || true
  tail -n 1 "$WORK/time" >> "$WORK/$name"
}
best() { sort -n -k1,1 "$WORK/$1" | head -n 1 | cut -d' ' -f1; }
peak() { sort -n -k2,2 "$WORK/$1" | tail -n 1 | cut -d' ' -f2; }
ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f'{a/b:.2f}' if b>0 else 'n/a')" "$1" "$2"; }

for round in 1 2 3; do
  measure recipe sh -c "$RECIPE"
  measure summary "$CTKIT" summary --by src
  measure list "$CTKIT" -L
  measure summary2 "$CTKIT" summary --by src,dport,state
  if [ "$FROM_FILE" = yes ]; then
    measure recipe_file sh -c "$RECIPE_FILE"
    measure summary_file "$CTKIT" summary --by src --from "$WORK/proc.txt"
  fi
done

# The answers agree: the recipe counts reply sources (all 198.51.100.255 here), summary the
# clients; summary's total is the table.
total=$(in_ns "$CTKIT" summary --by src --json | tail -n 1)
recipe_top=$(in_ns sh -c "$RECIPE" | head -n 1 | awk '{print $1, $2}')

echo "# ctkit summary benchmark: N=$N entries (half TCP ASSURED, half UDP UNREPLIED, 762 sources)"
echo
echo "machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r), $(date -u +%F), best of 3"
echo
echo "| command | s | peak RSS | vs recipe | vs ctkit -L |"
echo "|---|---|---|---|---|"
r=$(best recipe); s=$(best summary); l=$(best list); s2=$(best summary2)
echo "| recipe (sed \| sort \| uniq -c \| sort -r \| head) on /proc | $r | $(peak recipe) KB | 1 | $(ratio "$r" "$l") |"
echo "| ctkit -L > /dev/null | $l | $(peak list) KB | $(ratio "$l" "$r") | 1 |"
echo "| ctkit summary --by src | $s | $(peak summary) KB | $(ratio "$s" "$r") ($(ratio "$r" "$s") x faster) | $(ratio "$s" "$l") |"
echo "| ctkit summary --by src,dport,state | $s2 | $(peak summary2) KB | $(ratio "$s2" "$r") | $(ratio "$s2" "$l") |"
if [ "$FROM_FILE" = yes ]; then
  rf=$(best recipe_file); sf=$(best summary_file)
  echo "| recipe on a saved /proc file ($(wc -l < "$WORK/proc.txt") lines) | $rf | $(peak recipe_file) KB | 1 | |"
  echo "| ctkit summary --by src --from FILE | $sf | $(peak summary_file) KB | $(ratio "$sf" "$rf") ($(ratio "$rf" "$sf") x faster) | |"
else
  echo "| ctkit summary --from FILE | not measured: this build does not read saved files | | | |"
fi
echo
echo "summary total: $total"
echo "recipe's top line: $recipe_top (the reply source: every reply comes from the server)"
