#!/usr/bin/env bash
# Side-by-side on one capture: wirehunt ingest (all tables), tshark extracting the same facts with
# -T fields, and `tcpdump -r F -w /dev/null` (the practical read ceiling). Prints MB/s, ratios and
# peak RSS (from /usr/bin/time -v). Usage:
#   benches/compare.sh [CAPTURE]          (default: a simulated mixed capture, see SIZE)
# Needs: a release build (cargo build --release), tshark, tcpdump, GNU time (apt-get install tshark tcpdump time).
set -euo pipefail
cd "$(dirname "$0")/.."
WH=${WIREHUNT_BIN:-target/release/wirehunt}
SIZE=${SIZE:-300000000}
F=${1:-}
if [ -z "$F" ]; then
  F=/tmp/wirehunt-compare-$SIZE.pcap
  [ -f "$F" ] || "$WH" -q simulate --seed 42 --hours 1 --hosts 40 --size "$SIZE" -o "$F"
fi
bytes=$(stat -c %s "$F")
out=$(mktemp -d)
measure() { # name, command...
  local name=$1; shift
  /usr/bin/time -v "$@" > /dev/null 2> "$out/$name.time" || true
  local secs rss
  secs=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$out/$name.time")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$out/$name.time")
  printf '%s\t%s\t%s\n' "$name" "$secs" "$rss" >> "$out/results"
}
sync
measure tcpdump tcpdump -r "$F" -w /dev/null
measure wirehunt "$WH" -q ingest "$F" -o "$out/ds"
measure tshark_fields tshark -r "$F" -T fields -e frame.time_epoch -e ip.src -e ip.dst -e tcp.srcport -e tcp.dstport -e udp.srcport -e udp.dstport -e dns.qry.name -e dns.qry.type -e dns.flags.rcode -e http.request.method -e http.host -e http.request.uri -e tls.handshake.extensions_server_name -e tls.handshake.ja3
echo "capture: $F ($bytes bytes, $(capinfos -c -M "$F" 2>/dev/null | awk -F': +' '/Number of packets/ {print $2}') packets)"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
printf '\n| tool | seconds | MB/s | vs tshark | peak RSS MiB |\n|---|---|---|---|---|\n'
ts=$(awk -F'\t' '$1=="tshark_fields" {print $2}' "$out/results")
while IFS=$'\t' read -r name secs rss; do
  awk -v n="$name" -v s="$secs" -v r="$rss" -v b="$bytes" -v t="$ts" 'BEGIN { printf "| %s | %.2f | %.1f | %.1fx | %.0f |\n", n, s, b/1e6/s, t/s, r/1024 }'
done < "$out/results"
rm -rf "$out"
