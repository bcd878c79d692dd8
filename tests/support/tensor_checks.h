#pragma once
// Tensor comparisons the numeric tests share (float64 references, largest absolute difference).
#include <torch/types.h>

namespace pyramidion::testing {

inline const torch::TensorOptions kF64 = torch::TensorOptions().dtype(torch::kDouble);

// max |a - b| over all elements.
inline double max_diff(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

}  // namespace pyramidion::testing
