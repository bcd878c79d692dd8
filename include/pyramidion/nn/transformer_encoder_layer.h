#pragma once
// One encoder layer: (blockwise) self-attention and feed-forward, each with residual + layer norm.
#include <torch/nn/module.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include "pyramidion/nn/blockwise_self_attention.h"
#include "pyramidion/nn/feed_forward.h"
#include "pyramidion/nn/layer_options.h"

namespace pyramidion {

class TransformerEncoderLayerImpl : public torch::nn::Module {
 public:
  // chunk_size 0 = full self-attention.
  TransformerEncoderLayerImpl(const TransformerLayerOptions& options, int64_t chunk_size);

  // states (batch, length, dim), mask (batch, length) bool, true = real, or undefined when nothing is padded
  // -> (batch, length, dim)
  torch::Tensor forward(const torch::Tensor& states, const torch::Tensor& mask);

  int64_t block_size(int64_t length) const { return self_attn_->block_size(length); }

 private:
  TransformerLayerOptions options_;
  BlockwiseSelfAttention self_attn_{nullptr};
  torch::nn::LayerNorm self_attn_norm_{nullptr};
  FeedForward ffn_{nullptr};
  torch::nn::LayerNorm ffn_norm_{nullptr};
};
TORCH_MODULE(TransformerEncoderLayer);

}  // namespace pyramidion
