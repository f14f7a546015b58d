#!/usr/bin/env bash
# Peak memory (RSS) of ingest and triage on large hostile captures made by `wirehunt simulate --flood`:
# a SYN flood from 1M spoofed sources, 2M pipelined GETs on one connection, a fragment flood (copies
# of one fragment + incomplete datagrams), 3M tiny segments after a TCP hole, and 200k connections
# with forged 2 GB sequence jumps. Target: every run under 1 GiB RSS. Results go in benches/README.md.
#   benches/memcheck.sh [SCALE]    (SCALE multiplies the packet counts; default 1; WIREHUNT_BIN=path skips the build)
set -euo pipefail
cd "$(dirname "$0")/.."
scale="${1:-1}"
bin=${WIREHUNT_BIN:-target/release/wirehunt}
[ -n "${WIREHUNT_BIN:-}" ] || cargo build --release --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '%-10s %10s %12s %14s %14s %s\n' flood packets capture_MB ingest_MiB triage_MiB findings
for spec in syn:1000000 pipeline:2000000 fragment:1000000 hole:3000000 seqjump:200000; do
  kind=${spec%%:*}; n=$(( ${spec##*:} * scale ))
  cap="$work/$kind.pcap"
  "$bin" simulate --flood "$kind" --packets "$n" -o "$cap"
  mb=$(( $(stat -c %s "$cap") / 1000000 ))
  ing=$( { /usr/bin/time -f '%M' "$bin" -q ingest "$cap" -d "$work/$kind.ds" >/dev/null; } 2>&1 | tail -1)
  tri=$( { /usr/bin/time -f '%M' "$bin" -q triage "$work/$kind.ds" --format jsonl --min-severity low >"$work/$kind.jsonl"; } 2>&1 | tail -1)
  printf '%-10s %10s %12s %14s %14s %s\n' "$kind" "$n" "$mb" "$((ing / 1024))" "$((tri / 1024))" "$(wc -l < "$work/$kind.jsonl")"
  rm -rf "$cap" "$work/$kind.ds"
done
