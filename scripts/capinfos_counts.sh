#!/usr/bin/env bash
# Regenerate tests/data/capinfos_counts.tsv: the packet count capinfos reports for every corpus file.
# The corpus test compares wirehunt's manifest packets_read with these counts.
set -euo pipefail
corpus=${WIREHUNT_CORPUS:-../shared/pcaps}
out=${1:-tests/data/capinfos_counts.tsv}
printf 'path\tpackets\n' > "$out"
(cd "$corpus" && find . -type f ! -name '*.tsv' ! -name '*.md' | sed 's|^\./||' | LC_ALL=C sort) | while read -r f; do
  n=$( (capinfos -c -M -T -r "$corpus/$f" 2>/dev/null || true) | awk -F'\t' 'NR==1{print $2}')
  printf '%s\t%s\n' "$f" "${n:-ERROR}" >> "$out"
done
echo "wrote $out"
