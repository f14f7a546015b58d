#!/usr/bin/env bash
# Run the mutation fuzzer (tests/fuzz.rs) for a long time: capture readers, decode, reassembly and
# the DNS/HTTP/TLS analyzers over mutated corpus captures. Any panic fails; crashing inputs land in
# target/fuzz-crashes/. The test profile keeps overflow checks on.
#   scripts/fuzz.sh [SECONDS] [SEED]     (default: 3600 s, seed 1)
set -euo pipefail
cd "$(dirname "$0")/.."
export WIREHUNT_CORPUS="${WIREHUNT_CORPUS:-$(cd .. && pwd)/shared/pcaps}"
WIREHUNT_FUZZ_SECONDS="${1:-3600}" WIREHUNT_FUZZ_SEED="${2:-1}" \
  cargo test --test main -- --ignored fuzz_for_a_while --nocapture
