#pragma once
// A flat, versioned container of named tensors (name, dtype, shape, raw little-endian bytes), used for model
// weights and optimizer state. It depends on nothing but the tensors' bytes, so files written by a LibTorch
// 1.13 build load in a 2.x build and back (LibTorch's own archives go through the TorchScript unpickler,
// which crashed on load in a pip LibTorch 2.11 build).
#include <torch/types.h>

#include <string>
#include <utility>
#include <vector>

namespace torch::nn {
class Module;  // <torch/nn/module.h>: only references here, so the declaration is enough
}  // namespace torch::nn

namespace pyramidion {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// Tensors are copied to the CPU, made contiguous and stored with their dtype and shape.
std::string serialize_tensors(const NamedTensors& tensors);

// CPU tensors in file order. Throws std::runtime_error "<origin>: ..." on a corrupt or truncated archive.
NamedTensors parse_tensors(const std::string& bytes, const std::string& origin);

// A module's parameters and buffers by their qualified names.
NamedTensors module_tensors(const torch::nn::Module& module);

// Copies `tensors` into the module's parameters and buffers (same names, same shapes; on the module's
// devices). Throws std::runtime_error "<origin>: ..." naming a missing, unexpected or mis-shaped tensor.
void load_module_tensors(torch::nn::Module& module, const NamedTensors& tensors, const std::string& origin);

}  // namespace pyramidion
