#!/usr/bin/env bash
# Builds pyramidion against a pip PyTorch (LibTorch 2.x with CUDA) and runs the checks that need a GPU:
# the per-device test suites and the CUDA benchmarks. Results go to ${OUT:-out/gpu}.
# Libraries the machine lacks can come as Debian .deb files in .devdeps/ (unpacked with dpkg -x).
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${OUT:-$root/out/gpu}"
mkdir -p "$out"
log="$out/gpu-log.txt"
exec > >(tee -a "$log") 2>&1
step() { echo; echo "=== $* ($(date +%T))"; }

prefix_path="$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')"
if compgen -G "$root/.devdeps/*.deb" >/dev/null; then
  deps=/tmp/pyramidion-devdeps
  mkdir -p "$deps"
  for deb in "$root"/.devdeps/*.deb; do dpkg -x "$deb" "$deps"; done
  prefix_path="$prefix_path;$deps/usr"
  export LD_LIBRARY_PATH="$deps/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
  export CPATH="$deps/usr/include:${CPATH:-}"
fi
step "machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c 'import torch;print("torch", torch.__version__, "cuda", torch.version.cuda)'

step "configure + build"
export BUILD_DIR="${BUILD_DIR:-$root/build-gpu}"
export BUILD_JOBS="${BUILD_JOBS:-$(nproc)}"
export TORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST:-9.0}"
BUILD_KEEP_GOING=1 bash "$root/scripts/build.sh" -DCMAKE_PREFIX_PATH="$prefix_path" -DPYRAMIDION_BUILD_BENCH=ON \
  > "$out/build-log.txt" 2>&1 || { echo "BUILD FAILED (continuing with what was built):"; grep -E "error|FAILED" "$out/build-log.txt" | head -40; }
tail -3 "$out/build-log.txt"

status=0
bin="$BUILD_DIR/pyramidion"
# Each step gets at most its own limit and never more than what is left of ${DEADLINE_S:-540} seconds.
limit() { local left=$(( ${DEADLINE_S:-540} - SECONDS - 5 )); [ "$left" -lt "$1" ] && echo $(( left > 1 ? left : 1 )) || echo "$1"; }
run_step() { local seconds="$1"; shift; timeout "$(limit "$seconds")" "$@" || { echo "step failed or timed out: $*"; status=1; }; }

step "tests (CUDA cases run here)"
for suite in ops nn models decoding; do
  [ -x "$BUILD_DIR/tests/test_$suite" ] && run_step 120 "$BUILD_DIR/tests/test_$suite" --gtest_brief=1
done
[ -x "$BUILD_DIR/tests/test_training" ] && run_step 120 "$BUILD_DIR/tests/test_training" --gtest_brief=1 \
    --gtest_filter='TrainerOnCuda.*:Trainer.*'

step "python module (import pyramidion: the CUDA cases of tests/python run here)"
if compgen -G "$BUILD_DIR/python/pyramidion/_pyramidion*.so" >/dev/null; then
  pushd "$BUILD_DIR" >/dev/null && run_step 180 ctest -R '^python$' --output-on-failure; popd >/dev/null
  PYTHONPATH="$BUILD_DIR/python" run_step 60 python3 "$root/bench/python_topk.py" --device cuda --loop-repetitions 1
else
  echo "no Python module built (see the \"Python module:\" line of $out/build-log.txt)"
fi

step "bench topk"
run_step 60 "$bin" bench topk --device cuda --dtype float32 --repetitions 50 --skip-quality
run_step 60 "$bin" bench topk --device cuda --dtype bfloat16 --repetitions 50 --skip-quality --skip-reference

step "bench architectures (paper scale: 6+6 layers, d 512, bf16; issue 6)"
# Training batch 16, inference 4 documents x beam 16 x 64 tokens.
run_step 240 "$bin" bench --device cuda --dtype bfloat16 --archs vanilla,blockwise,transpooler,deep-pyramidion \
    --lengths 4096,8192,16384 --batch 16 --target-length 256 --steps 5 --warmup 2 \
    --gen-tokens 64 --beam 16 --gen-batch 4 --max-seconds 20 \
    --json "$out/bench-gpu.json" --svg "$out/bench-gpu.svg"

step "demo on the GPU (${DEMO_MINUTES:-1.5} minutes)"
run_step 150 "$bin" demo --minutes "${DEMO_MINUTES:-1.5}" --output /tmp/pyramidion-demo-gpu
cp /tmp/pyramidion-demo-gpu/report.json "$out/demo-gpu-report.json" 2>/dev/null
cp /tmp/pyramidion-demo-gpu/curve.jsonl "$out/demo-gpu-curve.jsonl" 2>/dev/null

if [ -n "${GPU_EXTRA:-}" ]; then
  step "extra: $GPU_EXTRA"
  bash -c "$GPU_EXTRA" || status=1
fi
echo "gpu-check status $status"
exit $status
