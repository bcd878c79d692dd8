#!/usr/bin/env bash
# The main job on the embedded default: installs what is missing, builds, and runs it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Only what the demo needs: a fresh build directory is configured without the test suites (scripts/test.sh turns
# them on); an existing one keeps its settings.
bash "$root/scripts/install-deps.sh"
build_args=()
[ -f "${BUILD_DIR:-$root/build}/CMakeCache.txt" ] || build_args=(-DPYRAMIDION_BUILD_TESTS=OFF)
bash "$root/scripts/build.sh" "${build_args[@]}"
bash "$root/scripts/python-path.sh"  # python3 -c "import pyramidion" loads this build
exec "${BUILD_DIR:-$root/build}/pyramidion" demo "$@"
