#!/usr/bin/env bash
# The test command (README, and .ci/run calls exactly this): install the reference peers the tests compare
# against (tshark, capinfos, Suricata, DuckDB, moto's S3 server), the browser the HTML report is checked in (Chromium and
# chromedriver) and the terminal the shell is driven in (tmux; util-linux script), then run `cargo test`. A peer that cannot be installed is a failure, never a skipped comparison.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
need=()
command -v tshark >/dev/null 2>&1 || need+=(tshark)
command -v capinfos >/dev/null 2>&1 || need+=(tshark)
# the HTML report is checked in a real browser (tests/browser.rs)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
# the interactive shell is driven in a real terminal (tests/sql.rs)
command -v tmux >/dev/null 2>&1 || need+=(tmux)
# the binary's allocator (tikv-jemalloc-sys) is built from C with configure and make
command -v make >/dev/null 2>&1 || need+=(make)
if [ ${#need[@]} -gt 0 ]; then
  echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# Suricata (Community ID comparison): Debian 12 ships it in bookworm-backports only; add that suite
# to the system's own Debian source (same mirror) when it is missing
if ! command -v suricata >/dev/null 2>&1; then
  src=/etc/apt/sources.list.d/debian.sources
  if [ -f "$src" ] && grep -q '^Suites: bookworm bookworm-updates$' "$src"; then
    $SUDO sed -i 's/^Suites: bookworm bookworm-updates$/Suites: bookworm bookworm-updates bookworm-backports/' "$src"
  fi
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq -t bookworm-backports suricata >/dev/null 2>&1 || $SUDO apt-get install -y -qq suricata >/dev/null
fi
# DuckDB (tests/cluster.rs: another engine reads the same Parquet) from the Python package registry
if ! python3 -c 'import duckdb' >/dev/null 2>&1; then
  python3 -m pip --version >/dev/null 2>&1 || { $SUDO apt-get update -qq; $SUDO apt-get install -y -qq python3-pip >/dev/null; }
  python3 -m pip install --quiet duckdb 2>/dev/null || python3 -m pip install --quiet --break-system-packages duckdb
fi
python3 -c 'import duckdb' || { echo "scripts/test.sh: DuckDB (python3 -m pip install duckdb) is required and could not be installed" >&2; exit 1; }
# moto's S3-compatible server (tests/cluster.rs: datasets on object storage), same registry
if ! command -v moto_server >/dev/null 2>&1; then
  python3 -m pip install --quiet 'moto[server]' 2>/dev/null || python3 -m pip install --quiet --break-system-packages 'moto[server]'
  # a per-user install puts its scripts here
  export PATH="$PATH:$(python3 -m site --user-base)/bin"
fi
for t in tshark capinfos suricata chromium chromedriver tmux script moto_server; do
  command -v "$t" >/dev/null 2>&1 || { echo "scripts/test.sh: $t is required and could not be installed" >&2; exit 1; }
done
export WIREHUNT_CORPUS="${WIREHUNT_CORPUS:-$(cd .. && pwd)/shared/pcaps}"
# `cargo test` does not build the benches: check that they still compile (one stopped compiling
# unnoticed once)
cargo check --benches --quiet
cargo test "$@"
