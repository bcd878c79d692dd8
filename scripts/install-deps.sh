#!/usr/bin/env bash
# Installs the Debian 12 packages pyramidion needs. Idempotent: skips what is already installed.
set -euo pipefail
# What building and running pyramidion needs (the demo, the library, every command, `import pyramidion`).
PACKAGES=(
  build-essential cmake ninja-build ccache clang
  libtorch-dev libopenblas0-openmp
  libsentencepiece-dev
  libcli11-dev libyaml-cpp-dev nlohmann-json3-dev libspdlog-dev libfmt-dev
  libcpp-httplib-dev libgloo-dev liblzma-dev zlib1g-dev
  python3-torch python3-dev pybind11-dev
)
for option in "$@"; do
  case "$option" in
    # --tests: what the test suites need besides (GoogleTest, Google Benchmark, spm_train for the tokenizer
    # tests, python3-sentencepiece for the PEGASUS tokenizer's reference, clang-format for the format check,
    # headless Chromium and node/npm for the page tests and the byte-level BPE reference: a machine with its own
    # npm keeps it).
    --tests)
      PACKAGES+=(libgtest-dev libbenchmark-dev sentencepiece python3-sentencepiece chromium python3-pytest clang-format)
      if ! command -v npm >/dev/null; then PACKAGES+=(nodejs npm); fi
      ;;
    # --bench: python3-yaml for bench/compare_reference.py (Debian's PyTorch, the same LibTorch 1.13, is a base
    # package: `import pyramidion` is built against it).
    --bench) PACKAGES+=(python3-yaml) ;;
    *) echo "install-deps: unknown option $option (--tests, --bench)" >&2; exit 2 ;;
  esac
done
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
