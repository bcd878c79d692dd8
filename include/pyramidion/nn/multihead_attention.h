#pragma once
// Multi-head attention with separate projections, so keys/values can be computed once and cached.
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include "pyramidion/nn/attention.h"
#include "pyramidion/nn/quantizable_linear.h"

namespace pyramidion {

struct MultiheadAttentionOptions {
  int64_t dim = 512;
  int64_t heads = 8;
  double dropout = 0.1;  // attention-probability dropout (training only)
  AttentionBackend backend = AttentionBackend::automatic;
};

struct ProjectedKeyValue {
  torch::Tensor key;    // (batch, heads, length, head_dim)
  torch::Tensor value;  // (batch, heads, length, head_dim)
};

class MultiheadAttentionImpl : public torch::nn::Module {
 public:
  explicit MultiheadAttentionImpl(const MultiheadAttentionOptions& options);

  // query (batch, query_len, dim), key_value (batch, key_len, dim), key_mask (batch, key_len) bool or undefined
  // -> (batch, query_len, dim)
  torch::Tensor forward(const torch::Tensor& query, const torch::Tensor& key_value, const torch::Tensor& key_mask,
                        bool causal = false);

  // states (batch, length, dim) -> keys and values split into heads.
  ProjectedKeyValue project_key_value(const torch::Tensor& states);

  // query (batch, query_len, dim) against projected keys/values (batch, heads, key_len, head_dim)
  // -> (batch, query_len, dim)
  torch::Tensor attend(const torch::Tensor& query, const ProjectedKeyValue& kv, const torch::Tensor& key_mask,
                       bool causal = false);

  // The attention probabilities attend() uses (eval mode: no dropout): query (batch, query_len, dim) against
  // projected keys (batch, heads, key_len, head_dim), key_mask (batch, key_len) bool or undefined
  // -> (batch, heads, query_len, key_len); rows of a query with no real key are zero. For inspection
  // (the highlight view's cross-attention), not on the decoding path.
  torch::Tensor attention_weights(const torch::Tensor& query, const ProjectedKeyValue& kv,
                                  const torch::Tensor& key_mask);

  // attend() computed from explicit probabilities, which it also returns with autograd (copy attention trains
  // through them): query (batch, query_len, dim) -> (batch, query_len, dim); *weights = the probabilities before
  // attention dropout (batch, heads, query_len, key_len) float32 or wider.
  torch::Tensor attend_with_weights(const torch::Tensor& query, const ProjectedKeyValue& kv,
                                    const torch::Tensor& key_mask, torch::Tensor* weights);

  const MultiheadAttentionOptions& options() const { return options_; }

 private:
  torch::Tensor split_heads(const torch::Tensor& x) const;  // (batch, len, dim) -> (batch, heads, len, head_dim)
  // q (batch, heads, query_len, head_dim) -> probabilities (batch, heads, query_len, key_len), float32 or wider.
  torch::Tensor probabilities(const torch::Tensor& q, const ProjectedKeyValue& kv, const torch::Tensor& key_mask) const;

  MultiheadAttentionOptions options_;
  QuantizableLinear q_proj_{nullptr}, k_proj_{nullptr}, v_proj_{nullptr}, out_proj_{nullptr};
};
TORCH_MODULE(MultiheadAttention);

}  // namespace pyramidion
