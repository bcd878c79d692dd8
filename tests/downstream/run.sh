#!/usr/bin/env bash
# Installs the built tree into a temporary prefix, then configures and builds tests/downstream against it with
# find_package(pyramidion) (the example program and one object per installed header) and runs the program.
# DOWNSTREAM_JOBS: parallel compiles (default 2).
set -euo pipefail
build_dir="$1"; source_dir="$2"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
start=$SECONDS
cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null
compiler=$(grep -E '^CMAKE_CXX_COMPILER:' "$build_dir/CMakeCache.txt" | cut -d= -f2)
torch_dir=$(grep -E '^Torch_DIR:' "$build_dir/CMakeCache.txt" | cut -d= -f2)
generator=(); keep_going=(-- -k)
command -v ninja >/dev/null && generator=(-G Ninja) && keep_going=(-- -k 0)
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  # Paths under the temporary directory hashed relative to it: a rerun hits the cache.
  export CCACHE_BASEDIR="$work"
fi
cmake -S "$source_dir/tests/downstream" -B "$work/build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_COMPILER="$compiler" -DCMAKE_PREFIX_PATH="$work/prefix" -DTorch_DIR="$torch_dir" "${launcher[@]}" >/dev/null
if ! cmake --build "$work/build" --parallel "${DOWNSTREAM_JOBS:-2}" "${keep_going[@]}" >"$work/build.log" 2>&1; then
  # Which headers failed, and why (the build log lives in the temporary directory).
  grep -E 'error|FAILED' "$work/build.log" | head -40
  echo "downstream build FAILED"
  exit 1
fi
echo "downstream: example and $(find "$work/build" -path '*header_check*' -name '*.o' | wc -l) header objects built in $((SECONDS - start)) s"
LD_LIBRARY_PATH="$work/prefix/lib:$work/prefix/lib64:$work/prefix/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}" "$work/build/downstream"
