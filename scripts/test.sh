#!/usr/bin/env bash
# Installs what is missing, then builds and runs every test: in the Release
# build, in the ASan+UBSan+LeakSanitizer build, and the concurrency suites in
# the ThreadSanitizer build. This is what CI runs (.ci/run).
#
#   bash scripts/test.sh
#
# Every step runs even when an earlier one failed (a failing release test
# should not hide a sanitizer report); the exit status is non-zero if any
# step failed, and a summary lists them all at the end.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

jobs=${WEFT_JOBS:-2}
results=()
failed=0

step() {
  local name=$1
  shift
  echo
  echo "==> $name"
  local started=$SECONDS
  if "$@"; then
    results+=("ok    $name ($((SECONDS - started)) s)")
    return 0
  fi
  results+=("FAIL  $name ($((SECONDS - started)) s)")
  failed=1
  return 1
}

run_ctest() {
  local preset=$1
  shift
  env "$@" ctest --test-dir "build/$preset" --output-on-failure -j "$jobs"
}

if step "setup" bash scripts/setup.sh; then
  if step "build release" bash scripts/build.sh release; then
    step "test release" run_ctest release
    # The short stress run: spawn, await, cancel, scope and timer storms with
    # exact accounting and flat memory, at 1, 2 and 8 workers; then the
    # scripts of the bugs it once found (each prints OK; two check memory
    # after a warm-up, which the short storms are too short to do).
    step "stress (quick)" bash stress/run --quick --weft build/release/weft --threads 1,2,8
    # Their RSS checks want freed pages returned at once (stress/run).
    for bug in stress/bugs/*.weft; do
      step "stress bug check $(basename "$bug" .weft)" env MIMALLOC_DECOMMIT_DELAY=0 \
        build/release/weft --threads 2 "$bug"
    done
  fi
  if step "build asan" bash scripts/build.sh asan; then
    step "test asan" run_ctest asan \
      ASAN_OPTIONS=detect_leaks=1 \
      UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
    # The actor, channel and pipeline storms, small, under ASan and (below)
    # TSan: each prints OK only when its exact accounting holds.
    for storm in "actor_storm 20000" "channel_storm 10000" "pipeline_memory 3000"; do
      set -- $storm
      step "stress asan $1" env ASAN_OPTIONS=detect_leaks=1 \
        UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 build/asan/weft --threads 2 "stress/$1.weft" "$2" 1
    done
  fi
  # ThreadSanitizer over the concurrency suites: the scheduler, promise and
  # I/O unit tests (IoService, IoFiles, IoProcess, IoTcp, IoHttp) and the
  # async and I/O script tests. oneTBB is rebuilt with TSan
  # from Debian's source first (../shared/design/PITFALLS.md).
  if step "build oneTBB with TSan" bash scripts/build_tbb_tsan.sh &&
    step "build tsan" bash scripts/build.sh tsan; then
    step "test tsan" env TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
      ctest --test-dir build/tsan --output-on-failure -j "$jobs" \
      -R "${WEFT_TSAN_TESTS:-^(PromiseCore|Scheduler|Task|TaskState|ChannelCore|Mailbox|RingQueue|Parker|FrozenArray|ArrayCursor|CompoundUpdate|Embed|Trace|Io[A-Za-z]*[./])|^async_scripts|^io_scripts|^cli_diagnostics}"
    for storm in "actor_storm 20000" "channel_storm 10000" "pipeline_memory 3000"; do
      set -- $storm
      step "stress tsan $1" env TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
        build/tsan/weft --threads 2 "stress/$1.weft" "$2" 1
    done
  fi
fi

echo
echo "==> summary"
printf '  %s\n' "${results[@]}"
if [[ $failed -ne 0 ]]; then
  echo "FAILED"
  exit 1
fi
echo "all passed"
