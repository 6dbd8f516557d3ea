#!/usr/bin/env bash
# Mutation testing of the modules that decide who gets a session (.cargo/mutants.toml).
#
#   tools/mutants.sh                      every mutant of the set (takes hours on two cores)
#   tools/mutants.sh --in-diff <git-rev>  only the lines changed since <git-rev>
#   tools/mutants.sh --max <n> …          at most n mutants, spread evenly over the set (CI)
#   tools/mutants.sh --ci …               mutate the checkout in place and build with the test
#                                         profile, reusing what `cargo test` already built
#
# Any other argument goes to cargo-mutants (e.g. `--re 'policy\.rs'`, `-j 2`). Results land in
# target/mutants.out (caught.txt, missed.txt, timeout.txt, unviable.txt). Exit status:
# 0 when no mutant survived, 2 when one did (cargo-mutants' own codes).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo-mutants >/dev/null 2>&1; then
  echo "cargo-mutants is not installed: cargo install cargo-mutants --locked --version 27.1.0" >&2
  exit 1
fi

args=()
max=""
while (($#)); do
  case "$1" in
    --in-diff)
      diff_file="target/mutants-changes.diff"
      mkdir -p target
      git diff "$2" -- glide-core/src >"$diff_file"
      if [ ! -s "$diff_file" ]; then
        echo "mutants: nothing under glide-core/src changed since $2"
        exit 0
      fi
      args+=(--in-diff "$diff_file")
      shift 2
      ;;
    --ci)
      args+=(--in-place --profile test)
      shift
      ;;
    --max)
      max="$2"
      shift 2
      ;;
    *)
      args+=("$1")
      shift
      ;;
  esac
done

if [ -n "$max" ]; then
  count=$(cargo mutants --list "${args[@]}" | wc -l)
  if [ "$count" -eq 0 ]; then
    echo "mutants: no mutant in the changed lines of the examined modules"
    exit 0
  fi
  shards=$(((count + max - 1) / max))
  if [ "$shards" -gt 1 ]; then
    echo "mutants: $count mutants; testing every ${shards}th one (shard 0/$shards, round robin)"
    args+=(--shard "0/$shards" --sharding round-robin)
  fi
fi

exec cargo mutants "${args[@]}"
