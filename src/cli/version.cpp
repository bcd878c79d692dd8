// `pyramidion --version`: what this binary is and what it runs on (a bug report's first line).
#include <ATen/Context.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <string>

#include "command.h"
#include "pyramidion/training/distributed_context.h"
#include "pyramidion/version.h"

namespace pyramidion::cli {

std::string version_text() {
  std::string text = std::string("pyramidion ") + PYRAMIDION_VERSION + "\n";
  text += "LibTorch " + std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
          std::to_string(TORCH_VERSION_PATCH) + "\n";
  if (!at::hasCUDA()) {
    text += "CUDA: not built into this LibTorch (CPU only)\n";
  } else {
    const auto devices = torch::cuda::device_count();
    text += "CUDA: built in, " + std::to_string(devices) + (devices == 1 ? " device" : " devices") + " visible\n";
  }
  std::string backends;
  for (const auto& name : compiled_distributed_backends()) backends += (backends.empty() ? "" : ", ") + name;
  text +=
      "distributed backends: " + (backends.empty() ? std::string("none (single-process training only)") : backends) +
      "\n";
  return text;
}

}  // namespace pyramidion::cli
