#include "pyramidion/nn/sinusoidal_positions.h"

#include <torch/torch.h>

#include <cmath>

namespace pyramidion {

torch::Tensor sinusoidal_embeddings(const torch::Tensor& positions, int64_t dim, torch::ScalarType dtype) {
  const int64_t half = dim / 2;
  // Computed in float64 and rounded once, so every dtype sees the same angles.
  auto f64 = torch::TensorOptions().dtype(torch::kDouble).device(positions.device());
  const double step = half > 1 ? std::log(10000.0) / static_cast<double>(half - 1) : 0.0;
  torch::Tensor freq = torch::exp(torch::arange(half, f64) * -step);         // (half)
  torch::Tensor angles = positions.to(torch::kDouble).unsqueeze(-1) * freq;  // (..., half)
  torch::Tensor out = torch::cat({torch::sin(angles), torch::cos(angles)}, -1);
  if (dim % 2 == 1) {
    auto sizes = out.sizes().vec();
    sizes.back() = 1;
    out = torch::cat({out, torch::zeros(sizes, f64)}, -1);
  }
  return out.to(dtype);
}

torch::Tensor document_positions(const torch::Tensor& mask, int64_t pad_id, int64_t dim, torch::ScalarType dtype) {
  torch::Tensor real = mask.to(torch::kLong);                        // (batch, length)
  torch::Tensor positions = torch::cumsum(real, 1) * real + pad_id;  // fairseq make_positions
  return sinusoidal_embeddings(positions, dim, dtype) * mask.unsqueeze(-1).to(dtype);
}

}  // namespace pyramidion
