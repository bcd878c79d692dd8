#!/usr/bin/env bash
# Installs the Debian 12 packages pyramidion needs. Idempotent: skips what is already installed.
set -euo pipefail
PACKAGES=(
  build-essential cmake ninja-build ccache clang
  libtorch-dev libopenblas0-openmp
  libsentencepiece-dev sentencepiece
  libcli11-dev libyaml-cpp-dev nlohmann-json3-dev libspdlog-dev libfmt-dev
  libcpp-httplib-dev libgtest-dev libbenchmark-dev libgloo-dev
  chromium
)
# --bench: also Debian's PyTorch (same LibTorch 1.13) for the plain-PyTorch side of bench/compare_reference.py.
if [ "${1:-}" = "--bench" ]; then PACKAGES+=(python3-torch python3-yaml); fi
# The browser tests need node + npm: a machine with its own (e.g. nodesource) npm keeps it; else Debian's.
if ! command -v npm >/dev/null; then PACKAGES+=(nodejs npm); fi
missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
