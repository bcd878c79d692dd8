#!/usr/bin/env bash
# Builds scripts/device/model_check.cpp against python3's PyTorch (2.x, CUDA) and runs it. The model needs yaml-cpp:
# YAML_CPP_DIR must hold include/yaml-cpp and libyaml-cpp.a (or .so) when the system has none.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
torch_dir="$(python3 -c 'import torch, os; print(os.path.dirname(torch.__file__))')"
out="${OUT:-/tmp}/model_check_build"
mkdir -p "$out"
yaml_inc=(); yaml_lib=(-lyaml-cpp)
if [ -n "${YAML_CPP_DIR:-}" ]; then yaml_inc=(-I "$YAML_CPP_DIR/include"); yaml_lib=("$YAML_CPP_DIR"/libyaml-cpp.*); fi
std="${CXX_STD:-c++17}"
flags=(-O2 -std="$std" -fPIC -D_GLIBCXX_USE_CXX11_ABI="$(python3 -c 'import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))')"
       -I "$root/include" -I "$root/src" -I "$torch_dir/include" -I "$torch_dir/include/torch/csrc/api/include" "${yaml_inc[@]}")
sources=("$root"/src/ops/*.cpp "$root"/src/nn/*.cpp "$root"/src/models/summarization_model.cpp
         "$root"/src/models/model_config.cpp "$root"/src/util/yaml_override.cpp "$root"/scripts/device/model_check.cpp)
printf '%s\n' "${sources[@]}" | xargs -P "$(nproc)" -I{} sh -c 'g++ "$@" -c {} -o '"$out"'/$(basename {}).o' _ "${flags[@]}"
g++ "$out"/*.o -o "$out/model_check" -L "$torch_dir/lib" -Wl,-rpath,"$torch_dir/lib" -ltorch -ltorch_cpu -ltorch_cuda \
    -lc10 -lc10_cuda "${yaml_lib[@]}"
"$out/model_check"
