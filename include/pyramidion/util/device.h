#pragma once
// Device and dtype names as users write them in options and config files.
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <string>

namespace pyramidion {

// "cpu", "cuda", "cuda:N", or "auto" (the first CUDA device when there is one, else the CPU). Throws
// std::invalid_argument "<name>: ..." when the name is not a device or this build/machine has no CUDA device.
c10::Device parse_device(const std::string& name);

// "float32" (or "float"), "float64" ("double"), "bfloat16", "float16" ("half"). Throws std::invalid_argument.
c10::ScalarType parse_dtype(const std::string& name);

}  // namespace pyramidion
