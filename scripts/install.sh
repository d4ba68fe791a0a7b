#!/usr/bin/env bash
# Build and install ctkit (cargo install into ~/.cargo/bin, or $CARGO_INSTALL_ROOT),
# then run the main job (`ctkit doctor`: the table's health report; the script exits with
# doctor's status, 0 ok, 1 warning, 2 critical).
#
# This never installs a `conntrack` command. To use ctkit as a drop-in conntrack,
# create the symlink yourself (see README.md):
#   ln -s "$(command -v ctkit)" /usr/local/sbin/conntrack
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

cargo install --locked --path crates/ctkit

bin_dir="${CARGO_INSTALL_ROOT:-${CARGO_HOME:-$HOME/.cargo}}/bin"
ctkit="$bin_dir/ctkit"
echo "install.sh: installed $ctkit" >&2
case ":$PATH:" in
  *":$bin_dir:"*) ;;
  *) echo "install.sh: note: $bin_dir is not on PATH" >&2 ;;
esac

# Main job: the conntrack health report with fixes (needs root / CAP_NET_ADMIN).
exec "$ctkit" doctor "$@"
