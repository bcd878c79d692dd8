#pragma once
// One decoder layer: causal self-attention, cross-attention to the encoder memory, feed-forward.
#include <torch/nn/module.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include "pyramidion/nn/decoder_cache.h"
#include "pyramidion/nn/feed_forward.h"
#include "pyramidion/nn/layer_options.h"
#include "pyramidion/nn/multihead_attention.h"

namespace pyramidion {

// What copy attention reads of one decoder layer's cross-attention (its alignment layer), with autograd.
struct CrossAttentionTap {
  torch::Tensor weights;  // (batch, heads, queries, memory_len) probabilities before dropout, float32 or wider
  torch::Tensor context;  // (batch, queries, dim) the cross-attention's output (the attention context)
};

class TransformerDecoderLayerImpl : public torch::nn::Module {
 public:
  explicit TransformerDecoderLayerImpl(const TransformerLayerOptions& options);

  // Teacher forcing. states (batch, tgt_len, dim), memory (batch, memory_len, dim),
  // memory_mask (batch, memory_len) bool -> (batch, tgt_len, dim). With cross_attention set, it also receives
  // this layer's cross-attention probabilities (batch, heads, tgt_len, memory_len) (inspection only; off by default).
  // With tap set, the cross-attention runs from explicit probabilities and hands them over with its output.
  torch::Tensor forward(const torch::Tensor& states, const torch::Tensor& memory, const torch::Tensor& memory_mask,
                        torch::Tensor* cross_attention = nullptr, CrossAttentionTap* tap = nullptr);

  // Cross-attention keys/values of memory (batch, memory_len, dim), for incremental decoding.
  DecoderLayerCache start(const torch::Tensor& memory);

  // One token per row: states (batch, 1, dim) -> (batch, 1, dim); appends this token's keys/values to `cache`.
  // memory_mask (batch / memory_group, memory_len): row r attends to memory row r / memory_group
  // (DecoderCache::memory_group(): the beams of one document share its cross-attention keys/values).
  // With tap set: tap->weights (batch / memory_group, heads, memory_group, memory_len) (the rows of one memory
  // row as its queries) and tap->context (batch, 1, dim).
  torch::Tensor step(const torch::Tensor& states, DecoderLayerCache& cache, const torch::Tensor& memory_mask,
                     int64_t memory_group = 1, CrossAttentionTap* tap = nullptr);

 private:
  // The shared body; self_attention maps the (normalized) input to the self-attention output.
  template <typename SelfAttention, typename CrossAttention>
  torch::Tensor body(const torch::Tensor& states, SelfAttention&& self_attention, CrossAttention&& cross_attention);

  TransformerLayerOptions options_;
  MultiheadAttention self_attn_{nullptr}, cross_attn_{nullptr};
  torch::nn::LayerNorm self_attn_norm_{nullptr}, cross_attn_norm_{nullptr}, ffn_norm_{nullptr};
  FeedForward ffn_{nullptr};
};
TORCH_MODULE(TransformerDecoderLayer);

}  // namespace pyramidion
