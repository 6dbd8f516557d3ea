#!/usr/bin/env bash
# Builds every cargo-fuzz target of glide-rs and runs each for N inputs (default 10000).
#
#   fuzz/run.sh                  # every target, 10 000 inputs each (a smoke run, ~1 min)
#   fuzz/run.sh 10000000         # every target, 10 million inputs each (the recorded runs)
#   fuzz/run.sh 100000 cookie    # one target (or several, space-separated)
#   MAX_TIME=300 fuzz/run.sh 10000000 callback_query   # stop a slow target after 300 s
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). On a stable toolchain the instrumentation
# flags are allowed through RUSTC_BOOTSTRAP=1 (set here). Targets are built without a sanitizer
# (`-s none`: glide-core forbids unsafe code, and this triples the speed); add SANITIZER=address
# to build with AddressSanitizer. Build output goes to $CARGO_TARGET_DIR/fuzz (default
# fuzz/target). New corpus entries go to fuzz/corpus/<target> (not committed); the committed
# seeds in fuzz/seeds/<target> are read too. A crash stops that target, leaves its input in
# fuzz/artifacts/<target>/ and makes the script exit non-zero; it goes on with the other targets.
# For each target one line is printed: target, executions, seconds, exec/s, crashes, and the
# last coverage line's edges (cov), features (ft) and corpus (entries/size).
set -uo pipefail
cd "$(dirname "$0")"

RUNS="${1:-10000}"
shift || true
ALL=(phone cookie email endpoint_body callback_query glide_responses chain_events session_handle ciba)
TARGETS=("${@:-${ALL[@]}}")
SANITIZER="${SANITIZER:-none}"
MAX_TIME="${MAX_TIME:-0}"
TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}/fuzz"
TRIPLE="$(rustc -vV | sed -n 's/^host: //p')"
BIN="$TARGET_DIR/$TRIPLE/release"
export RUSTC_BOOTSTRAP=1

command -v cargo-fuzz >/dev/null || { echo "cargo-fuzz is missing: cargo install cargo-fuzz" >&2; exit 2; }
cargo fuzz build -s "$SANITIZER" --target-dir "$TARGET_DIR" || exit 2

failed=0
printf '%-16s %12s %8s %10s %7s %6s %6s %s\n' target executions seconds exec/s crashes cov ft corpus
for t in "${TARGETS[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  seeds=()
  [ -d "seeds/$t" ] && seeds=("seeds/$t")
  log="artifacts/$t/last-run.log"
  start=$(date +%s.%N)
  "$BIN/$t" -runs="$RUNS" -max_total_time="$MAX_TIME" -print_final_stats=1 \
    -artifact_prefix="artifacts/$t/" "corpus/$t" "${seeds[@]}" >"$log" 2>&1
  rc=$?
  end=$(date +%s.%N)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  execs="${execs:-$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -1)}"
  secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
  rate=$(awk -v n="${execs:-0}" -v s="$secs" 'BEGIN { printf "%d", n / (s + 0.001) }')
  crashes=0
  if [ $rc -ne 0 ]; then
    crashes=1
    failed=1
    grep -E "panicked at|^SUMMARY|Test unit written" "$log" >&2
  fi
  last=$(grep -E '^#[0-9]+.* cov: ' "$log" | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([^ ]*\).*/\1/p' <<<"$last")
  printf '%-16s %12s %8.0f %10s %7s %6s %6s %s\n' "$t" "${execs:-?}" "$secs" "$rate" "$crashes" \
    "${cov:-?}" "${ft:-?}" "${corp:-?}"
done
exit $failed
