#include "pyramidion/util/device.h"

#include <torch/cuda.h>

#include <stdexcept>

namespace pyramidion {

c10::Device parse_device(const std::string& name) {
  if (name == "auto") return torch::cuda::is_available() ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
  c10::Device device(c10::kCPU);
  try {
    device = c10::Device(name);
  } catch (const c10::Error&) {
    throw std::invalid_argument(name + ": not a device (cpu, cuda, cuda:N, auto)");
  }
  if (device.is_cuda() && !torch::cuda::is_available())
    throw std::invalid_argument(name + ": this build or machine has no CUDA device");
  if (device.is_cuda() && device.has_index() && device.index() >= static_cast<int>(torch::cuda::device_count()))
    throw std::invalid_argument(name + ": there are only " + std::to_string(torch::cuda::device_count()) +
                                " CUDA devices");
  return device;
}

c10::ScalarType parse_dtype(const std::string& name) {
  if (name == "float32" || name == "float") return c10::kFloat;
  if (name == "float64" || name == "double") return c10::kDouble;
  if (name == "bfloat16") return c10::kBFloat16;
  if (name == "float16" || name == "half") return c10::kHalf;
  throw std::invalid_argument(name + ": not a dtype (float32, float64, bfloat16, float16)");
}

}  // namespace pyramidion
