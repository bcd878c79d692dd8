#!/usr/bin/env bash
# Benchmark (not a test): `pyramidion highlight` on a 10,000-word document with a tiny 16k-position model, then the
# page opened in headless Chromium (bench_highlight_page.js: time to the first shaded screen, to the whole
# document, and for a layer toggle). Results in docs/benchmarks.md.
# usage: tests/browser/run_bench_highlight_page.sh BUILD_DIR [WORDS]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="$(cd "$1" && pwd)"
words="${2:-10000}"
bash "$here/setup.sh" "$build"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$build/tests/make_tiny_model" "$work/tiny.pt" 16384
python3 - "$words" > "$work/doc.txt" <<'PY'
import random, sys
random.seed(7)
vocab = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa quebec "
         "romeo sierra tango uniform victor whiskey xray yankee zulu one two three four five six seven eight nine ten").split()
n, out, sentence = int(sys.argv[1]), [], 0
while len(out) < n:
    k = random.randint(8, 20)
    out += [random.choice(vocab) for _ in range(k - 1)] + ["."]
print(" ".join(out[:n]))
PY
start=$(date +%s.%N)
"$build/pyramidion" highlight -m "$work/tiny.pt" -i "$work/doc.txt" --input-format whole -o "$work/page.html" \
  --beam 1 --max-len-b 16 2>"$work/log" || { cat "$work/log" >&2; exit 1; }
end=$(date +%s.%N)
echo "{\"highlight_command_s\": $(python3 -c "print(round($end - $start, 2))"), \"page_bytes\": $(stat -c %s "$work/page.html")}"
node "$here/bench_highlight_page.js" "$build" "$work/page.html" 3
