#!/usr/bin/env bash
# Run every test of the workspace on a fresh Debian machine (as root).
#
# 1. Installs from Debian what the kernel/namespace tests need, only if absent
#    (apt-get update runs only when something is missing).
# 2. Loads the conntrack kernel modules when possible.
# 3. Removes namespaces left behind by killed test runs (ctkit-<pid>-<n>, pid dead).
# 4. Runs `cargo test --workspace` and exits with its status.
#
# Never installs a `conntrack` of ours on PATH: Debian's /usr/sbin/conntrack is the
# oracle, and the tests reach our binary through cargo's CARGO_BIN_EXE_ctkit.
#
# Environment:
#   CTKIT_REQUIRE_KERNEL=1          kernel tests fail instead of skipping (set by .ci/run)
#   CTKIT_TEST_ORACLE_AS_SUBJECT=1  test the harness: /usr/sbin/conntrack is the subject
#   CTKIT_TEST_PROFILE=release      build tests with --release (default: debug, faster to build)
#   CTKIT_TESTSUITE=DIR             conntrack-tools testsuite data (default ../shared/conntrack-testsuite)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

log() { printf 'test.sh: %s\n' "$*" >&2; }

# command -> Debian package providing it
declare -A need=(
  [conntrack]=conntrack
  [nft]=nftables
  [iptstate]=iptstate
  [tcpdump]=tcpdump
  [tmux]=tmux
  [ip]=iproute2
  [ping]=iputils-ping
  [modprobe]=kmod
  [unshare]=util-linux
  [nsenter]=util-linux
  [flock]=util-linux
  [setpriv]=util-linux
  [python3]=python3
  [sed]=sed
)

# PATH may miss sbin directories for non-login shells.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

missing=()
for cmd in "${!need[@]}"; do
  if ! command -v "$cmd" >/dev/null 2>&1; then
    missing+=("${need[$cmd]}")
  fi
done
# The oracle must be Debian's binary at its Debian path.
if [ ! -x /usr/sbin/conntrack ]; then
  missing+=(conntrack)
fi

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    log "missing packages (${missing[*]}) and not root: kernel tests will skip"
  else
    mapfile -t pkgs < <(printf '%s\n' "${missing[@]}" | sort -u)
    log "installing: ${pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${pkgs[@]}" </dev/null
  fi
fi

if [ "$(id -u)" -eq 0 ]; then
  modprobe -a nf_conntrack nf_conntrack_netlink nf_conntrack_ftp nf_nat 2>/dev/null || true
  for m in nf_conntrack nf_conntrack_netlink nf_conntrack_ftp nf_nat; do
    modprobe "$m" 2>/dev/null || true
  done
  # Namespaces of test processes that were killed before their Drop ran.
  if command -v ip >/dev/null 2>&1; then
    ip netns list 2>/dev/null | awk '{print $1}' | while read -r ns; do
      case "$ns" in
        ctkit-*-*)
          pid="${ns#ctkit-}"; pid="${pid%%-*}"
          # Only test namespaces carry a pid there (ctkit-bench-<pid> is a benchmark's).
          case "$pid" in ''|*[!0-9]*) continue ;; esac
          if [ ! -d "/proc/$pid" ]; then
            log "removing stale namespace $ns"
            ip netns del "$ns" 2>/dev/null || true
          fi
          ;;
      esac
    done
  fi
fi

profile=()
if [ "${CTKIT_TEST_PROFILE:-debug}" = "release" ]; then
  profile=(--release)
fi

log "cargo test --workspace ${profile[*]}"
out=$(mktemp)
set +e
cargo test --workspace "${profile[@]}" 2>&1 | tee "$out"
status=${PIPESTATUS[0]}
set -e
# One closing line over every test binary (cargo ends on its last doc-test run, which may
# hold no test at all).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$out"
rm -f "$out"
exit "$status"
