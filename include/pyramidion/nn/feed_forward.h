#pragma once
// Position-wise feed-forward block: Linear -> activation -> dropout -> Linear.
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include "pyramidion/nn/layer_options.h"
#include "pyramidion/nn/quantizable_linear.h"

namespace pyramidion {

class FeedForwardImpl : public torch::nn::Module {
 public:
  explicit FeedForwardImpl(const TransformerLayerOptions& options);
  torch::Tensor forward(const torch::Tensor& x);  // (batch, length, dim) -> (batch, length, dim)

 private:
  Activation activation_;
  double activation_dropout_;
  QuantizableLinear fc1_{nullptr}, fc2_{nullptr};
};
TORCH_MODULE(FeedForward);

}  // namespace pyramidion
