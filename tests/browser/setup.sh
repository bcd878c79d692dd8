#!/usr/bin/env bash
# Installs the browser tests' node packages (puppeteer-core, pinned by package-lock.json) into BUILD_DIR/browser.
# Idempotent: nothing is done when node_modules matches the lock file. Silent on success; errors on stderr.
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: tests/browser/setup.sh BUILD_DIR" >&2
  exit 2
fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dest="$1/browser"
if ! command -v chromium >/dev/null; then
  echo "browser tests: chromium not found (install it with scripts/install-deps.sh --tests)" >&2
  exit 1
fi
if ! command -v npm >/dev/null; then
  echo "browser tests: npm not found (install it with scripts/install-deps.sh --tests)" >&2
  exit 1
fi
mkdir -p "$dest"
cp "$here/package.json" "$here/package-lock.json" "$dest/"
stamp="$dest/node_modules/.pyramidion-lock"
if [ -f "$dest/node_modules/puppeteer-core/package.json" ] && [ -f "$stamp" ] && cmp -s "$stamp" "$dest/package-lock.json"; then
  exit 0
fi
log="$(mktemp)"
if ! (cd "$dest" && timeout 600 npm ci --no-audit --no-fund --loglevel=error) >"$log" 2>&1; then
  cat "$log" >&2
  rm -f "$log"
  echo "browser tests: npm ci failed in $dest" >&2
  exit 1
fi
rm -f "$log"
cp "$dest/package-lock.json" "$stamp"
