#include "pyramidion/nn/transformer_encoder_layer.h"

#include <torch/torch.h>

namespace pyramidion {

TransformerEncoderLayerImpl::TransformerEncoderLayerImpl(const TransformerLayerOptions& options, int64_t chunk_size)
    : options_(options) {
  MultiheadAttentionOptions attention{options.dim, options.heads, options.attention_dropout, options.attention_backend};
  self_attn_ = register_module("self_attn", BlockwiseSelfAttention(attention, chunk_size));
  self_attn_norm_ = register_module("self_attn_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({options.dim})));
  ffn_ = register_module("ffn", FeedForward(options));
  ffn_norm_ = register_module("ffn_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({options.dim})));
}

torch::Tensor TransformerEncoderLayerImpl::forward(const torch::Tensor& states, const torch::Tensor& mask) {
  const bool pre = options_.normalize_before;
  torch::Tensor x = states;
  torch::Tensor h = self_attn_(pre ? self_attn_norm_(x) : x, mask);
  x = x + torch::dropout(h, options_.dropout, is_training());
  if (!pre) x = self_attn_norm_(x);
  h = ffn_(pre ? ffn_norm_(x) : x);
  x = x + torch::dropout(h, options_.dropout, is_training());
  if (!pre) x = ffn_norm_(x);
  return x;
}

}  // namespace pyramidion
