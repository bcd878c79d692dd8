#!/usr/bin/env bash
# Installs the reference byte-level BPE tokenizer (@huggingface/tokenizers: Hugging Face's pure-JavaScript
# tokenizers, pinned by package-lock.json) into BUILD_DIR/bpe_reference, beside encode.mjs. Idempotent: nothing
# is done when node_modules matches the lock file. Silent on success; the reason on stderr otherwise.
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: tests/data/bpe_reference/setup.sh BUILD_DIR" >&2
  exit 2
fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dest="$1/bpe_reference"
for tool in node npm; do
  if ! command -v "$tool" >/dev/null; then
    echo "$tool not found (install it with scripts/install-deps.sh --tests)" >&2
    exit 1
  fi
done
mkdir -p "$dest"
cp "$here/package.json" "$here/package-lock.json" "$here/encode.mjs" "$dest/"
stamp="$dest/node_modules/.pyramidion-lock"
if [ -f "$dest/node_modules/@huggingface/tokenizers/package.json" ] && [ -f "$stamp" ] && cmp -s "$stamp" "$dest/package-lock.json"; then
  exit 0
fi
log="$(mktemp)"
if ! (cd "$dest" && timeout 300 npm ci --no-audit --no-fund --loglevel=error) >"$log" 2>&1; then
  tail -5 "$log" >&2
  rm -f "$log"
  echo "npm ci failed in $dest (is the npm registry reachable?)" >&2
  exit 1
fi
rm -f "$log"
cp "$dest/package-lock.json" "$stamp"
