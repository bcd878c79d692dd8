#!/usr/bin/env bash
# Builds the unit tests with sanitizers into ${BUILD_DIR:-build-sanitize} and runs them:
#   bash scripts/sanitize.sh                  # address + undefined behaviour: ops, nn, data, eval, util, models, decoding
#   SANITIZE=thread bash scripts/sanitize.sh  # data races: the server, the thread pools (data), c10d training
# Extra args go to ctest (e.g. -R ops). LibTorch is not instrumented; leak checking is off (LibTorch keeps its
# allocator's and its registries' memory until exit by design).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
sanitize="${SANITIZE:-address,undefined}"
build="${BUILD_DIR:-$root/build-sanitize}"
case "$sanitize" in
  thread) suites="${SUITES:-server|data|training}" ;;
  *) suites="${SUITES:-ops|nn|data|eval|util|models|decoding}" ;;
esac
BUILD_DIR="$build" BUILD_TARGETS="$(echo "$suites" | tr '|' '\n' | sed 's/^/test_/' | tr '\n' ' ') pyramidion_cli" \
  bash "$root/scripts/build.sh" -DPYRAMIDION_SANITIZE="$sanitize" -DPYRAMIDION_BUILD_TESTS=ON \
  -DPYRAMIDION_BUILD_BENCH=OFF -DPYRAMIDION_BUILD_PYTHON=OFF
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=0:halt_on_error=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$root/scripts/tsan-suppressions.txt:${TSAN_OPTIONS:-}"
cd "$build"
ctest --output-on-failure --timeout 3600 -R "^($suites)\$" "$@"
