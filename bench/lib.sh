# Shared prelude of the kernel benchmarks, sourced (not run) by bench/*.sh after `set -euo
# pipefail`:
#
#   . "$(dirname "$0")/lib.sh"
#   bench_init NAME [oracle]   # root check, $ROOT, $CTKIT (release build unless given), $ORACLE
#   bench_setup N              # lock, $WORK, namespace $NS + in_ns, nf_conntrack_max raised
#   bench_load FILE [N]        # `ctkit -R FILE` in $NS; with N, fail unless N entries loaded
#   ratio A B                  # A / B with two decimals (n/a when B is 0)
#
# Global state: nf_conntrack_max is writable only in the initial namespace and caps every
# namespace, so bench_setup takes the project-wide test lock (/run/lock/ctkit-tests.lock, the
# file support::lock::GlobalLock flocks), raises the limit to N + 25 % if it is lower, and the
# EXIT trap restores it, deletes the namespace and the work directory, even on failure.
# Namespaces are named ctkit-bench-NAME-PID: scripts/test.sh's stale-namespace clean-up only
# removes names with a pid right after `ctkit-`.

# bench_init NAME [oracle]
bench_init() {
  BENCH=$1
  ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  CTKIT=${CTKIT:-$ROOT/target/release/ctkit}
  ORACLE=/usr/sbin/conntrack
  [ "$(id -u)" = 0 ] || { echo "bench/$BENCH.sh: needs root" >&2; exit 2; }
  if [ "${2:-}" = oracle ] && [ ! -x "$ORACLE" ]; then
    echo "bench/$BENCH.sh: $ORACLE missing (apt-get install conntrack)" >&2
    exit 2
  fi
  if [ ! -x "$CTKIT" ]; then (cd "$ROOT" && cargo build --release -q -p ctkit); fi
}

bench_cleanup() {
  echo "$OLD_MAX" > "$MAXF" || true
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$WORK"
}

# bench_setup N
bench_setup() {
  local lock=/run/lock/ctkit-tests.lock
  [ -d /run/lock ] || lock=/tmp/ctkit-tests.lock
  exec 9>"$lock"
  flock 9
  WORK=$(mktemp -d)
  NS=ctkit-bench-$BENCH-$$
  MAXF=/proc/sys/net/netfilter/nf_conntrack_max
  OLD_MAX=$(cat "$MAXF")
  trap bench_cleanup EXIT
  local want=$(( $1 + $1 / 4 ))
  [ "$OLD_MAX" -ge "$want" ] || echo "$want" > "$MAXF"
  ip netns add "$NS"
}

in_ns() { ip netns exec "$NS" "$@"; }

# bench_load FILE [N]
bench_load() {
  in_ns "$CTKIT" -R "$1" >/dev/null 2>&1
  if [ -n "${2:-}" ]; then
    local count
    count=$(in_ns "$CTKIT" -C)
    [ "$count" -eq "$2" ] || { echo "bench/$BENCH.sh: loaded $count of $2 entries" >&2; exit 1; }
  fi
}

ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f'{a/b:.2f}' if b>0 else 'n/a')" "$1" "$2"; }
