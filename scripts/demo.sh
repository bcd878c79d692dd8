#!/usr/bin/env bash
# The main job on the embedded default: installs what is missing, builds, and runs it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/install-deps.sh"
bash "$root/scripts/build.sh"
exec "${BUILD_DIR:-$root/build}/pyramidion" demo "$@"
