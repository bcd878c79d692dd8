#!/usr/bin/env bash
# The project's C++ layout is .clang-format's (Google style, 120 columns).
#   bash scripts/format.sh          # rewrites every tracked C++ file in place
#   bash scripts/format.sh --check  # changes nothing; lists the files that differ, exits 1 if any (a ctest)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
formatter="${CLANG_FORMAT:-$(command -v clang-format || command -v clang-format-14 || true)}"
if [ -z "$formatter" ]; then
  echo "format: clang-format not found (bash scripts/install-deps.sh --tests installs it)" >&2
  exit 2
fi
# Tracked files when this is a git checkout, else every C++ file under the project's source folders.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files -- '*.cpp' '*.h' '*.cu' '*.cuh' | while read -r f; do [ -f "$f" ] && echo "$f"; done)
else
  mapfile -t files < <(find include src tests bench python -name '*.cpp' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh')
fi
if [ "${1:-}" != "--check" ]; then
  "$formatter" -i --style=file "${files[@]}"
  exit 0
fi
differ=0
for f in "${files[@]}"; do
  if ! "$formatter" --style=file "$f" | cmp -s - "$f"; then
    echo "format: $f differs from .clang-format's layout (bash scripts/format.sh rewrites it)" >&2
    differ=1
  fi
done
[ "$differ" -eq 0 ] && echo "format: ${#files[@]} files follow .clang-format"
exit "$differ"
