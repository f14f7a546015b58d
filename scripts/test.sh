#!/usr/bin/env bash
# The test command (README, and .ci/run calls exactly this): install the reference peers the tests compare
# against, then run `cargo test`. A peer that cannot be installed is a failure, never a skipped comparison.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v tshark >/dev/null 2>&1 || need+=(tshark)
command -v capinfos >/dev/null 2>&1 || need+=(tshark)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
for t in tshark capinfos; do
  command -v "$t" >/dev/null 2>&1 || { echo "scripts/test.sh: $t is required and could not be installed" >&2; exit 1; }
done
export WIREHUNT_CORPUS="${WIREHUNT_CORPUS:-$(cd .. && pwd)/shared/pcaps}"
cargo test "$@"
