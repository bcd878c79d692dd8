#include "pyramidion/models/compute_type.h"

#include <stdexcept>
#include <utility>
#include <vector>

#include "pyramidion/ops/int8_linear.h"

namespace pyramidion {
namespace {

const std::vector<std::pair<std::string, ComputeType>>& names() {
  static const std::vector<std::pair<std::string, ComputeType>> table = {
      {"default", ComputeType::default_type},      {"auto", ComputeType::automatic},
      {"float32", ComputeType::float32},           {"float64", ComputeType::float64},
      {"bfloat16", ComputeType::bfloat16},         {"float16", ComputeType::float16},
      {"int8_float32", ComputeType::int8_float32}, {"int8", ComputeType::int8_float32}};
  return table;
}

}  // namespace

ComputeType parse_compute_type(const std::string& name) {
  for (const auto& [n, type] : names())
    if (n == name) return type;
  throw std::invalid_argument(name + ": unknown compute type (float32, int8, int8_float32, bfloat16, auto, default)");
}

std::string compute_type_name(ComputeType type) {
  for (const auto& [n, t] : names())
    if (t == type) return n;
  return "?";
}

ComputeType resolve_compute_type(ComputeType requested, const c10::Device& device, bool file_is_int8) {
  const bool cpu = device.is_cpu();
  ComputeType type = requested;
  if (type == ComputeType::default_type) type = file_is_int8 ? ComputeType::int8_float32 : ComputeType::float32;
  // auto: int8 where the one-pass kernel has its AVX2 copy: 1.2-2x faster generation than float32 on the reference
  // CPU (docs/benchmarks.md, "int8 on the CPU"); without AVX2 (the portable copy, not measured) it keeps float32.
  if (type == ComputeType::automatic)
    type = cpu && int8_linear_has_avx2() ? ComputeType::int8_float32
                                         : (file_is_int8 ? ComputeType::int8_float32 : ComputeType::float32);
  const std::string name = compute_type_name(requested == ComputeType::automatic ? type : requested);
  if (type == ComputeType::int8_float32 && !cpu)
    throw std::invalid_argument(name + ": int8 runs on the CPU only (device " + device.str() + ")");
  if (type == ComputeType::float16 && !device.is_cuda()) throw std::invalid_argument(name + ": needs a CUDA device");
  if (file_is_int8 && type != ComputeType::int8_float32)
    throw std::invalid_argument(name + ": the model file holds int8 weights (use int8, int8_float32, auto or default)");
  return type;
}

c10::ScalarType activation_dtype(ComputeType type) {
  switch (type) {
    case ComputeType::float32:
    case ComputeType::int8_float32:
      return c10::kFloat;
    case ComputeType::float64:
      return c10::kDouble;
    case ComputeType::bfloat16:
      return c10::kBFloat16;
    case ComputeType::float16:
      return c10::kHalf;
    default:
      throw std::logic_error("activation_dtype: resolve the compute type first");
  }
}

}  // namespace pyramidion
