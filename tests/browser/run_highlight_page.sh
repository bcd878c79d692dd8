#!/usr/bin/env bash
# ctest driver for highlight_page.js: node packages, a tiny model, `pyramidion highlight -o page.html` on a
# document written here, then the page scenario in headless Chromium (opened from the file).
# usage: tests/browser/run_highlight_page.sh BUILD_DIR
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="$(cd "$1" && pwd)"
bash "$here/setup.sh" "$build"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$build/tests/make_tiny_model" "$work/tiny.pt"
cat > "$work/doc.txt" <<'DOC'
alpha bravo charlie delta echo foxtrot golf . hotel india juliet kilo lima mike november oscar . papa quebec romeo sierra tango uniform victor whiskey . xray yankee zulu one two three four five six seven eight nine ten . alpha echo india oscar uniform . bravo delta golf juliet lima november quebec sierra victor . xray zulu two four six eight ten .
DOC
"$build/pyramidion" --threads 1 highlight -m "$work/tiny.pt" -i "$work/doc.txt" --input-format whole \
  -o "$work/page.html" --json "$work/page.json" --beam 2 --max-len-b 12 --min-len 3 2>"$work/highlight.log" || {
  cat "$work/highlight.log" >&2; exit 1; }
mkdir -p "$build/browser-artifacts"
rm -f "$build/browser-artifacts/highlight-page-failure.png"  # a failure screenshot is from this run or none
cp "$work/page.html" "$build/browser-artifacts/highlight-page.html"
timeout 120 node "$here/highlight_page.js" "$build" "$work/page.html"
