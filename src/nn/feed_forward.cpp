#include "pyramidion/nn/feed_forward.h"

#include <torch/torch.h>

namespace pyramidion {

FeedForwardImpl::FeedForwardImpl(const TransformerLayerOptions& options)
    : activation_(options.activation), activation_dropout_(options.activation_dropout) {
  fc1_ = register_module("fc1", QuantizableLinear(options.dim, options.ffn_dim));
  fc2_ = register_module("fc2", QuantizableLinear(options.ffn_dim, options.dim));
  torch::NoGradGuard no_grad;
  for (auto* linear : {&fc1_, &fc2_}) {
    torch::nn::init::xavier_uniform_((*linear)->weight);
    torch::nn::init::zeros_((*linear)->bias);
  }
}

torch::Tensor FeedForwardImpl::forward(const torch::Tensor& x) {
  torch::Tensor h = fc1_(x);
  h = activation_ == Activation::gelu ? torch::gelu(h) : torch::relu(h);
  h = torch::dropout(h, activation_dropout_, is_training());
  return fc2_(h);
}

}  // namespace pyramidion
