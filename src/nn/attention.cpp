#include "pyramidion/nn/attention.h"

#include <torch/torch.h>
#include <torch/version.h>

#include <cmath>
#include <limits>

namespace pyramidion {
namespace {

// Explicit attention. mask: broadcastable to (batch, heads, query_len, key_len) bool, true = attend; or undefined.
torch::Tensor math_attention(const torch::Tensor& query, const torch::Tensor& key, const torch::Tensor& value,
                             const torch::Tensor& mask, double dropout_p) {
  const double scale = 1.0 / std::sqrt(static_cast<double>(query.size(-1)));
  torch::Tensor logits = torch::matmul(query, key.transpose(-2, -1)) * scale;  // (batch, heads, q, k)
  if (mask.defined()) logits = logits.masked_fill(mask.logical_not(), -std::numeric_limits<double>::infinity());
  // Half-precision logits are normalized in float32, as the fused kernels do.
  const bool low_precision = logits.scalar_type() == torch::kHalf || logits.scalar_type() == torch::kBFloat16;
  torch::Tensor probs =
      low_precision ? torch::softmax(logits, -1, torch::kFloat).to(logits.scalar_type()) : torch::softmax(logits, -1);
  if (dropout_p > 0) probs = torch::dropout(probs, dropout_p, /*train=*/true);
  return torch::matmul(probs, value);
}

}  // namespace

bool fused_attention_compiled() {
#if TORCH_VERSION_MAJOR >= 2
  return true;
#else
  return false;
#endif
}

torch::Tensor scaled_dot_product(const torch::Tensor& query, const torch::Tensor& key, const torch::Tensor& value,
                                 const torch::Tensor& key_mask, bool causal, double dropout_p,
                                 AttentionBackend backend) {
  const int64_t query_len = query.size(2), key_len = key.size(2);
  TORCH_CHECK(!causal || query_len == key_len, "causal attention needs query_len == key_len");
  torch::Tensor mask;       // broadcastable to (batch, heads, query_len, key_len); true = attend
  torch::Tensor row_valid;  // (batch, 1, query_len or 1, 1): false where a row has no key at all
  if (key_mask.defined()) {
    mask = key_mask.to(query.device()).view({key_mask.size(0), 1, 1, key_len});
    if (causal) mask = mask.logical_and(torch::ones({query_len, key_len}, mask.options()).tril());
    row_valid = mask.any(-1, /*keepdim=*/true);
    // Rows without keys attend to everything (finite numbers) and are zeroed afterwards.
    mask = mask.logical_or(row_valid.logical_not());
  }
#if TORCH_VERSION_MAJOR >= 2
  if (backend == AttentionBackend::automatic) {
    torch::Tensor out;
    if (mask.defined()) {
      out = at::scaled_dot_product_attention(query, key, value, c10::optional<at::Tensor>(mask), dropout_p, false);
    } else {
      out = at::scaled_dot_product_attention(query, key, value, c10::optional<at::Tensor>(), dropout_p, causal);
    }
    return row_valid.defined() ? out.masked_fill(row_valid.logical_not(), 0) : out;
  }
#endif
  (void)backend;
  if (!mask.defined() && causal) {
    mask = torch::ones({query_len, key_len}, torch::TensorOptions().dtype(torch::kBool).device(query.device())).tril();
  }
  torch::Tensor out = math_attention(query, key, value, mask, dropout_p);
  return row_valid.defined() ? out.masked_fill(row_valid.logical_not(), 0) : out;
}

}  // namespace pyramidion
