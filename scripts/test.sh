#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs every test suite under ctest.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/install-deps.sh" --tests
bash "$root/scripts/build.sh" -DPYRAMIDION_BUILD_TESTS=ON -DPYRAMIDION_WERROR=ON
bash "$root/scripts/python-path.sh"  # python3 -c "import pyramidion" loads this build
cd "${BUILD_DIR:-$root/build}"
ctest --output-on-failure --timeout 1200 "$@"
