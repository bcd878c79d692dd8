#pragma once
// Scaled dot-product attention over already projected heads, with the masking rules the model relies on.
#include <torch/types.h>

namespace pyramidion {

enum class AttentionBackend {
  automatic,  // at::scaled_dot_product_attention when LibTorch >= 2.0 (flash / memory-efficient on CUDA), else math
  math,       // explicit softmax(QK^T / sqrt(d)) V; identical numbers up to rounding
};

// True when this build calls at::scaled_dot_product_attention for AttentionBackend::automatic.
bool fused_attention_compiled();

// query (batch, heads, query_len, head_dim), key/value (batch, heads, key_len, head_dim)
// key_mask: (batch, key_len) bool, true = real key; undefined = every key is real.
// causal: query i sees keys 0..i (requires query_len == key_len).
// dropout_p: attention-probability dropout, already 0 in eval mode.
// A query row that has no key to attend to (a fully padded block or document) yields zeros, never NaN.
// Returns (batch, heads, query_len, head_dim).
torch::Tensor scaled_dot_product(const torch::Tensor& query, const torch::Tensor& key, const torch::Tensor& value,
                                 const torch::Tensor& key_mask, bool causal, double dropout_p,
                                 AttentionBackend backend = AttentionBackend::automatic);

}  // namespace pyramidion
