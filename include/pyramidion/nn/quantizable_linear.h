#pragma once
// A linear layer (torch::nn::Linear's parameter names, so model files are unchanged) whose weight can be switched
// to int8 with one float scale per output row (ops/int8_linear.h) for CPU inference: weight (out, in) becomes int8
// (no gradient) and a buffer weight_scale (out) float32 appears beside it, so module_tensors() saves and
// load_module_tensors() reads an int8 layer as it is. Activations and bias stay float32.
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

namespace pyramidion {

struct QuantizableLinearOptions {
  int64_t in_features = 0;
  int64_t out_features = 0;
  bool bias = true;
};

class QuantizableLinearImpl : public torch::nn::Module {
 public:
  QuantizableLinearImpl(int64_t in_features, int64_t out_features, bool bias = true);
  explicit QuantizableLinearImpl(const QuantizableLinearOptions& options);

  torch::Tensor forward(const torch::Tensor& x);  // (..., in) -> (..., out)

  // Float weight -> int8 per output row (symmetric, scale = max |w| / 127). No-op when already int8.
  void quantize();
  // The int8 layout with zero values and unit scales, to be filled by load_module_tensors (an int8 model file).
  void prepare_int8();
  bool is_int8() const;

  torch::Tensor weight;  // (out, in) float, or int8 after quantize()/prepare_int8()
  torch::Tensor bias;    // (out) or undefined
  const QuantizableLinearOptions& options() const { return options_; }

 private:
  // values (out, in) int8, scale (out) float32 replace the float weight.
  void install_int8(const torch::Tensor& values, const torch::Tensor& scale);

  QuantizableLinearOptions options_;
  torch::Tensor weight_scale_;  // (out) float32 once int8
};
TORCH_MODULE(QuantizableLinear);

}  // namespace pyramidion
