#include "pyramidion/nn/quantizable_linear.h"

#include <torch/torch.h>

#include <cmath>

#include "pyramidion/ops/int8_linear.h"

namespace pyramidion {

QuantizableLinearImpl::QuantizableLinearImpl(int64_t in_features, int64_t out_features, bool bias)
    : QuantizableLinearImpl(QuantizableLinearOptions{in_features, out_features, bias}) {}

QuantizableLinearImpl::QuantizableLinearImpl(const QuantizableLinearOptions& options) : options_(options) {
  weight = register_parameter("weight", torch::empty({options.out_features, options.in_features}));
  if (options.bias) bias = register_parameter("bias", torch::empty({options.out_features}));
  // torch::nn::Linear's default initialization (callers usually re-initialize).
  torch::NoGradGuard no_grad;
  const double bound = 1.0 / std::sqrt(static_cast<double>(std::max<int64_t>(options.in_features, 1)));
  torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) bias.uniform_(-bound, bound);
}

torch::Tensor QuantizableLinearImpl::forward(const torch::Tensor& x) {
  if (is_int8()) return int8_linear(x, weight, weight_scale_, bias);
  return torch::linear(x, weight, bias);
}

bool QuantizableLinearImpl::is_int8() const { return weight.scalar_type() == torch::kChar; }

void QuantizableLinearImpl::install_int8(const torch::Tensor& values, const torch::Tensor& scale) {
  torch::NoGradGuard no_grad;
  weight.set_requires_grad(false);  // an int8 tensor cannot require a gradient
  weight.set_data(values);
  weight_scale_ = register_buffer("weight_scale", scale);
}

void QuantizableLinearImpl::quantize() {
  if (is_int8()) return;
  const Int8Rows q = quantize_rows(weight.detach());
  install_int8(q.values, q.scale);
}

void QuantizableLinearImpl::prepare_int8() {
  if (is_int8()) return;
  install_int8(torch::zeros(weight.sizes(), weight.options().dtype(torch::kChar)),
               torch::ones({weight.size(0)}, weight.options().dtype(torch::kFloat)));
}

}  // namespace pyramidion
