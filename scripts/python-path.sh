#!/usr/bin/env bash
# Makes `python3 -c "import pyramidion"` load the module of a build tree: writes pyramidion.pth (the path of
# BUILD_DIR/python) into the site/dist-packages of the interpreter the build found (PYRAMIDION_PYTHON_EXECUTABLE
# in its CMakeCache.txt). Run by scripts/demo.sh and scripts/test.sh after the build; `cmake --install` is the way to
# install a copy instead. PYRAMIDION_PTH_DIR overrides the folder the file goes to. Does nothing (with a note) when
# the build has no Python module.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$(cd "${BUILD_DIR:-$root/build}" 2>/dev/null && pwd || true)"
python=$(grep -E '^PYRAMIDION_PYTHON_EXECUTABLE:' "$build/CMakeCache.txt" 2>/dev/null | cut -d= -f2 || true)
if [ -z "$build" ] || [ -z "$python" ] || ! ls "$build"/python/pyramidion/_pyramidion*.so >/dev/null 2>&1; then
  echo "python-path: ${build:-${BUILD_DIR:-build}} has no Python module (see cmake's \"Python module:\" line);" \
       "import pyramidion is not set up"
  exit 0
fi
dir="${PYRAMIDION_PTH_DIR:-$("$python" -c 'import sysconfig; print(sysconfig.get_path("platlib"))')}"
pth="$dir/pyramidion.pth"
if [ -f "$pth" ] && [ "$(cat "$pth")" = "$build/python" ]; then
  exit 0
fi
SUDO=""
if ! { mkdir -p "$dir" && [ -w "$dir" ]; } 2>/dev/null; then
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
fi
if echo "$build/python" | $SUDO sh -c "mkdir -p '$dir' && cat > '$pth'"; then
  echo "python-path: $pth -> $build/python ($python -c \"import pyramidion\")"
else
  echo "python-path: cannot write $pth; use PYTHONPATH=$build/python or cmake --install" >&2
fi
