#!/usr/bin/env bash
# ctest driver for serve_page.js: node packages, a tiny model, `pyramidion serve` on an ephemeral loopback
# port, the page scenario in headless Chromium, then SIGTERM to the server (which must exit 0).
# usage: tests/browser/run_serve_page.sh BUILD_DIR
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="$(cd "$1" && pwd)"
bash "$here/setup.sh" "$build"
work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then kill -KILL "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
"$build/tests/make_tiny_model" "$work/tiny.pt"
"$build/pyramidion" --threads 1 serve -m "$work/tiny.pt" --host 127.0.0.1 --port 0 --port-file "$work/port" \
  --max-wait-ms 5 2>"$work/serve.log" &
server_pid=$!
for _ in $(seq 1 600); do  # at most 60 s for the model to load
  [ -s "$work/port" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/serve.log" >&2; echo "serve exited early" >&2; exit 1; }
  sleep 0.1
done
[ -s "$work/port" ] || { cat "$work/serve.log" >&2; echo "serve did not start within 60 s" >&2; exit 1; }
port="$(cat "$work/port")"
status=0
timeout 120 node "$here/serve_page.js" "$build" "http://127.0.0.1:$port/" || status=$?
kill -TERM "$server_pid"
server_status=0
timeout 30 tail --pid="$server_pid" -f /dev/null || true
wait "$server_pid" || server_status=$?
server_pid=""
if [ "$server_status" -ne 0 ]; then
  cat "$work/serve.log" >&2
  echo "serve exited with $server_status after SIGTERM" >&2
  exit 1
fi
exit "$status"
