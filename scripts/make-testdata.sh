#!/usr/bin/env bash
# Regenerate the embedded demo scenario (testdata/scenario.pcap.gz + testdata/scenario.truth.json).
# The test `testdata_is_up_to_date` re-simulates with the same arguments and compares bytes.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --quiet -- -q simulate --seed 1 --hours 0.25 --hosts 8 --background-scale 0.03 --compressible -o testdata/scenario.pcap
gzip -9 -n -f testdata/scenario.pcap
ls -l testdata/
