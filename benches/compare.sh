#!/usr/bin/env bash
# Side-by-side on one capture: wirehunt ingest (all tables; on all cores, on one core, and on one core
# without the manifest's sha256), Suricata with no rules logging flow/dns/http/tls to eve.json
# (`--runmode single`, when installed), tshark extracting the same facts with -T fields, and
# `tcpdump -r F -w /dev/null` (the practical read ceiling). Prints wall seconds, MB/s, CPU seconds
# (user + system), MB per CPU-second (throughput per core), the ratio to tshark and to Suricata, and
# peak RSS (GNU time; wall clock from date +%s%N, best of REPS=3 runs, tshark once). Usage:
#   benches/compare.sh [CAPTURE]          (default: a simulated mixed capture, see SIZE)
#   MIX=small benches/compare.sh          (the hard case: a DNS/web mix of small packets, 1.2 M packets
#                                          averaging 341 bytes, 10.6 k connections per 100 k packets)
# Needs: a release build (cargo build --release), tshark, tcpdump, GNU time (apt-get install tshark
# tcpdump time), taskset (util-linux); optional: suricata (Debian: bookworm-backports).
set -euo pipefail
cd "$(dirname "$0")/.."
WH=${WIREHUNT_BIN:-target/release/wirehunt}
SIZE=${SIZE:-300000000}
F=${1:-}
if [ -z "$F" ] && [ "${MIX:-}" = small ]; then
  F=/tmp/wirehunt-compare-small.pcap
  [ -f "$F" ] || "$WH" -q simulate --seed 42 --hours 1 --hosts 400 --background-scale 0.1 -o "$F"
elif [ -z "$F" ]; then
  F=/tmp/wirehunt-compare-$SIZE.pcap
  [ -f "$F" ] || "$WH" -q simulate --seed 42 --hours 1 --hosts 40 --size "$SIZE" -o "$F"
fi
bytes=$(stat -c %s "$F")
out=$(mktemp -d)
REPS=${REPS:-3}
measure() { # name, command... : best wall time of REPS runs (tshark: one), with that run's CPU and RSS
  local name=$1; shift
  local reps=$REPS best="" t0 t1 wall
  [ "$name" = tshark_fields ] && reps=1
  for _ in $(seq "$reps"); do
    t0=$(date +%s%N)
    local rc=0
    /usr/bin/time -v "$@" > /dev/null 2> "$out/$name.try" || rc=$?
    t1=$(date +%s%N)
    # a failed run is not a fast run: stop and say why (a missing tool, a refused output directory)
    if [ "$rc" != 0 ]; then
      echo "benches/compare.sh: $name failed (exit $rc): $*" >&2
      tail -5 "$out/$name.try" >&2
      exit 1
    fi
    wall=$(( (t1 - t0) / 1000 )) # microseconds
    if [ -z "$best" ] || [ "$wall" -lt "$best" ]; then best=$wall; cp "$out/$name.try" "$out/$name.time"; fi
  done
  local rss cpu
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$out/$name.time")
  cpu=$(awk -F': ' '/User time \(seconds\)|System time \(seconds\)/ {c+=$2} END {print c}' "$out/$name.time")
  printf '%s\t%s\t%s\t%s\n' "$name" "$(awk -v w="$best" 'BEGIN {print w/1e6}')" "$rss" "$cpu" >> "$out/results"
}
sync
cat "$F" > /dev/null # into the page cache: every tool reads it from memory
measure tcpdump tcpdump -r "$F" -w /dev/null
# --force: each run replaces the previous run's dataset (ingest refuses to overwrite one silently)
measure wirehunt "$WH" -q ingest --force "$F" -d "$out/ds"
measure wirehunt_threads1 "$WH" -q ingest --force --threads 1 "$F" -d "$out/ds"
measure wirehunt_1core taskset -c 0 "$WH" -q ingest --force --threads 1 "$F" -d "$out/ds"
measure wirehunt_1core_no_hash taskset -c 0 "$WH" -q ingest --force --threads 1 --no-hash "$F" -d "$out/ds"
if command -v suricata > /dev/null; then
  mkdir -p "$out/suricata"
  cat > "$out/suricata.yaml" <<'YAML'
%YAML 1.1
---
vars:
  address-groups:
    HOME_NET: "[10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7]"
    EXTERNAL_NET: "!$HOME_NET"
  port-groups:
    HTTP_PORTS: "80"
outputs:
  - eve-log:
      enabled: yes
      filetype: regular
      filename: eve.json
      types: [flow, dns, http, tls]
app-layer:
  protocols:
    dns: { tcp: { enabled: yes }, udp: { enabled: yes } }
    http: { enabled: yes }
    tls: { enabled: yes }
logging:
  default-log-level: warning
YAML
  measure suricata_single suricata -c "$out/suricata.yaml" -r "$F" --runmode single -S /dev/null -k none -l "$out/suricata"
fi
measure tshark_fields tshark -r "$F" -T fields -e frame.time_epoch -e ip.src -e ip.dst -e tcp.srcport -e tcp.dstport -e udp.srcport -e udp.dstport -e dns.qry.name -e dns.qry.type -e dns.flags.rcode -e http.request.method -e http.host -e http.request.uri -e tls.handshake.extensions_server_name -e tls.handshake.ja3
echo "capture: $F ($bytes bytes, $(capinfos -c -M "$F" 2>/dev/null | awk -F': +' '/Number of packets/ {print $2}') packets)"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
pkts=$(capinfos -c -M "$F" 2>/dev/null | awk -F': +' '/Number of packets/ {print $2}')
printf '\n| tool | seconds | MB/s | M packets/s | CPU s | MB per CPU-s | vs tshark | vs Suricata | peak RSS MiB |\n|---|---|---|---|---|---|---|---|---|\n'
ts=$(awk -F'\t' '$1=="tshark_fields" {print $2}' "$out/results")
su=$(awk -F'\t' '$1=="suricata_single" {print $2}' "$out/results")
while IFS=$'\t' read -r name secs rss cpu; do
  awk -v n="$name" -v s="$secs" -v r="$rss" -v c="$cpu" -v b="$bytes" -v p="$pkts" -v t="$ts" -v u="${su:-0}" '
    function x(v) { return v >= 100 ? sprintf("%.0fx", v) : v >= 10 ? sprintf("%.1fx", v) : v >= 0.1 ? sprintf("%.2fx", v) : sprintf("%.4fx", v) }
    BEGIN { printf "| %s | %.3f | %.0f | %.2f | %.2f | %.0f | %s | %s | %.0f |\n", n, s, b/1e6/s, p/1e6/s, c, b/1e6/c, x(t/s), (u > 0 ? x(u/s) : "-"), r/1024 }'
done < "$out/results"
rm -rf "$out"
