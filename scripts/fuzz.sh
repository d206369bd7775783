#!/usr/bin/env bash
# Run every fuzz target for a bounded time: scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Engine: cargo-fuzz (libFuzzer, coverage-guided) when `cargo fuzz` is installed —
# on the stable toolchain through RUSTC_BOOTSTRAP=1 — otherwise (or with
# FUZZ_ENGINE=driver) the stable mutation driver `fuzz-driver` (no coverage feedback).
# Seeds: fuzz/seeds/<target>/ (committed); new corpus: fuzz/corpus/<target>/;
# crashes: fuzz/artifacts/<target>/. Exit status 1 if any target crashed.
# Replay a crash: (cd fuzz && ../target/debug/fuzz-driver TARGET --repro FILE)
#             or: (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run TARGET FILE)
set -u
SECS=${1:-60}
shift || true
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGETS=${*:-"resp_request resp_reply redis_conf sentinel_conf hello info rdb"}
ENGINE=${FUZZ_ENGINE:-auto}
if [ "$ENGINE" = auto ]; then
  if cargo fuzz --version >/dev/null 2>&1; then ENGINE=libfuzzer; else ENGINE=driver; fi
fi
cd "$ROOT/fuzz" || exit 2
echo "fuzz: engine=$ENGINE, ${SECS}s per target"
fail=0
if [ "$ENGINE" = driver ]; then
  CARGO_TARGET_DIR="$ROOT/target" cargo build -q --no-default-features --bin fuzz-driver || exit 2
  for t in $TARGETS; do
    "$ROOT/target/debug/fuzz-driver" "$t" "$SECS" "seeds/$t" || fail=1
  done
else
  export RUSTC_BOOTSTRAP=1
  for t in $TARGETS; do
    mkdir -p "corpus/$t" "artifacts/$t"
    # -max_total_time bounds the run; -rss_limit_mb/-malloc_limit_mb flag inputs that
    # make a parser reserve unbounded memory; -timeout flags hangs.
    cargo fuzz run "$t" "corpus/$t" "seeds/$t" -- \
      -max_total_time="$SECS" -rss_limit_mb=4096 -malloc_limit_mb=2048 -timeout=10 \
      -print_final_stats=1 2>&1 | grep -E "^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss|==[0-9]+==|SUMMARY|Test unit written|thread '.*panicked|Done )" \
      | sed "s/^/$t: /"
    [ "${PIPESTATUS[0]}" -eq 0 ] || fail=1
  done
fi
if [ "$fail" -ne 0 ]; then echo "fuzz: CRASHES FOUND (see fuzz/artifacts/)"; else echo "fuzz: no crash"; fi
exit $fail
