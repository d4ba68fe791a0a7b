#!/usr/bin/env bash
# Side-by-side benchmark of the --from file sources: N saved /proc/net/nf_conntrack lines
# (bench/gen_proc.py, a NAT-gateway-like mix) read by ctkit, against the shell recipe people
# use on such a copy (`sed | sort | uniq -c | sort -rn`, the anchor) and `cat`. Prints a
# markdown table; ratios are ctkit / anchor (below 1: ctkit is faster). Best of three runs.
#
#   bash bench/sources.sh [N]        # default N=1000000; no root needed
set -euo pipefail
N=${1:-1000000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CTKIT=${CTKIT:-$ROOT/target/release/ctkit}
PARSE=$ROOT/target/release/examples/parse_dump
(cd "$ROOT" && cargo build --release -q -p ctkit && cargo build --release -q -p ctkit-model --example parse_dump)

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
F=$WORK/nf_conntrack.txt
python3 "$ROOT/bench/gen_proc.py" "$N" > "$F"
cat "$F" > /dev/null # page cache

best() { # best wall time of three runs of "$@" (stdout to /dev/null), in seconds
  local b=""
  for _ in 1 2 3; do
    local t0 t1
    t0=$(date +%s.%N)
    "$@" > /dev/null 2>&1
    t1=$(date +%s.%N)
    b=$(echo "$t0 $t1 $b" | awk '{d=$2-$1; if ($3=="" || d<$3) print d; else print $3}')
  done
  printf '%.2f' "$b"
}

anchor() { sed -E 's/^[^=]* src=([^ ]+) .*$/\1/' "$F" | sort | uniq -c | sort -rn | head -20; }
have_summary() { "$CTKIT" summary --from "$F" --by src > /dev/null 2>&1; }

A=$(best anchor)
echo "N=$N lines, $(du -m "$F" | cut -f1) MB; $(nproc) CPUs; $(uname -r)"
echo
echo "| command | s | ratio to anchor |"
echo "|---|---|---|"
echo "| anchor: sed \| sort \| uniq -c \| sort -rn (top sources) | $A | 1 |"
row() { local t; t=$(best "${@:2}"); echo "| $1 | $t | $(echo "$t $A" | awk '{printf "%.3f", $1/$2}') |"; }
row "cat FILE" cat "$F"
row "parse only (examples/parse_dump)" "$PARSE" "$F"
row "ctkit list --from FILE --src 192.0.2.250 (parse + filter, no match)" "$CTKIT" list --from "$F" --src 192.0.2.250
row "ctkit list --from FILE (parse + print)" "$CTKIT" list --from "$F"
row "ctkit list --from FILE --json" "$CTKIT" list --from "$F" --json
if have_summary; then
  row "ctkit summary --from FILE --by src" "$CTKIT" summary --from "$F" --by src
fi
"$PARSE" "$F"
