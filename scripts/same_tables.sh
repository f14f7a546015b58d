#!/usr/bin/env bash
# Do two wirehunt binaries write the same tables? For refactors that must not change output.
#   scripts/same_tables.sh OLD_BIN NEW_BIN CAPTURE_OR_DIR...
# Ingests the inputs with each binary (one flow thread, then two), dumps every table as CSV sorted
# line by line, and compares the md5 of each; prints one line per table and exits 1 on any difference
# (the differing dumps stay in the printed directory for diff).
set -euo pipefail
old=$1 new=$2
shift 2
work=$(mktemp -d)
status=0
for threads in 1 2; do
  for side in old new; do
    bin=${!side}
    # 66: some input was unreadable or damaged (corpora hold such files on purpose); the dataset
    # is written all the same
    rc=0
    "$bin" -q ingest --threads "$threads" --no-hash "$@" -o "$work/$side-$threads" >/dev/null || rc=$?
    if [ $rc != 0 ] && [ $rc != 66 ]; then echo "$side ingest failed: exit $rc" >&2; exit 2; fi
  done
  tables=$("$new" -q sql "$work/new-$threads" -c "SHOW TABLES" --format csv |
    awk -F, '$2 == "public" && $4 == "BASE TABLE" {print $3}' | sort)
  for t in $tables; do
    for side in old new; do
      bin=${!side}
      "$bin" -q sql "$work/$side-$threads" -c "SELECT * FROM $t" --format csv --maxrows 0 |
        LC_ALL=C sort > "$work/$side-$threads.$t.csv"
    done
    a=$(md5sum < "$work/old-$threads.$t.csv" | cut -c1-32)
    b=$(md5sum < "$work/new-$threads.$t.csv" | cut -c1-32)
    rows=$(wc -l < "$work/new-$threads.$t.csv"); rows=$((rows > 0 ? rows - 1 : 0))
    if [ "$a" = "$b" ]; then
      echo "threads=$threads $t: same ($rows rows, md5 $a)"
    else
      echo "threads=$threads $t: DIFFERENT (old $a, new $b; $work/{old,new}-$threads.$t.csv)"
      status=1
    fi
  done
done
[ $status = 0 ] && rm -rf "$work"
exit $status
