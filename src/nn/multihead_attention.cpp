#include "pyramidion/nn/multihead_attention.h"

#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <stdexcept>

namespace pyramidion {

MultiheadAttentionImpl::MultiheadAttentionImpl(const MultiheadAttentionOptions& options) : options_(options) {
  if (options.heads < 1 || options.dim % options.heads != 0)
    throw std::invalid_argument("MultiheadAttention: heads (" + std::to_string(options.heads) + ") must divide dim (" +
                                std::to_string(options.dim) + ")");
  q_proj_ = register_module("q_proj", QuantizableLinear(options.dim, options.dim));
  k_proj_ = register_module("k_proj", QuantizableLinear(options.dim, options.dim));
  v_proj_ = register_module("v_proj", QuantizableLinear(options.dim, options.dim));
  out_proj_ = register_module("out_proj", QuantizableLinear(options.dim, options.dim));
  // fairseq initialization: scaled Xavier for the input projections, plain Xavier for the output.
  const double gain = 1.0 / std::sqrt(2.0);
  torch::NoGradGuard no_grad;
  for (auto* linear : {&q_proj_, &k_proj_, &v_proj_}) {
    torch::nn::init::xavier_uniform_((*linear)->weight, gain);
    torch::nn::init::zeros_((*linear)->bias);
  }
  torch::nn::init::xavier_uniform_(out_proj_->weight);
  torch::nn::init::zeros_(out_proj_->bias);
}

torch::Tensor MultiheadAttentionImpl::split_heads(const torch::Tensor& x) const {
  return x.view({x.size(0), x.size(1), options_.heads, options_.dim / options_.heads}).transpose(1, 2);
}

ProjectedKeyValue MultiheadAttentionImpl::project_key_value(const torch::Tensor& states) {
  return {split_heads(k_proj_(states)), split_heads(v_proj_(states))};
}

torch::Tensor MultiheadAttentionImpl::attend(const torch::Tensor& query, const ProjectedKeyValue& kv,
                                             const torch::Tensor& key_mask, bool causal) {
  torch::Tensor q = split_heads(q_proj_(query));  // (batch, heads, query_len, head_dim)
  const double p = is_training() ? options_.dropout : 0.0;
  torch::Tensor out = scaled_dot_product(q, kv.key, kv.value, key_mask, causal, p, options_.backend);
  out = out.transpose(1, 2).reshape({query.size(0), query.size(1), options_.dim});
  return out_proj_(out);
}

torch::Tensor MultiheadAttentionImpl::probabilities(const torch::Tensor& q, const ProjectedKeyValue& kv,
                                                    const torch::Tensor& key_mask) const {
  torch::Tensor logits = torch::matmul(q, kv.key.transpose(-2, -1)).div(std::sqrt(static_cast<double>(q.size(-1))));
  if (logits.scalar_type() != torch::kDouble) logits = logits.to(torch::kFloat);  // (batch, heads, query_len, key_len)
  if (key_mask.defined()) {
    torch::Tensor keep = key_mask.to(logits.device()).unsqueeze(1).unsqueeze(1);  // (batch, 1, 1, key_len)
    logits = logits.masked_fill(keep.logical_not(), -std::numeric_limits<float>::infinity());
    torch::Tensor weights = torch::softmax(logits, -1);
    return weights.nan_to_num(0.0);  // a query with no real key: zeros, as attend() gives
  }
  return torch::softmax(logits, -1);
}

torch::Tensor MultiheadAttentionImpl::attention_weights(const torch::Tensor& query, const ProjectedKeyValue& kv,
                                                        const torch::Tensor& key_mask) {
  return probabilities(split_heads(q_proj_(query)), kv, key_mask);
}

torch::Tensor MultiheadAttentionImpl::attend_with_weights(const torch::Tensor& query, const ProjectedKeyValue& kv,
                                                          const torch::Tensor& key_mask, torch::Tensor* weights) {
  torch::Tensor q = split_heads(q_proj_(query));  // (batch, heads, query_len, head_dim)
  torch::Tensor probs = probabilities(q, kv, key_mask);
  if (weights) *weights = probs;
  const double p = is_training() ? options_.dropout : 0.0;
  torch::Tensor out = torch::matmul(torch::dropout(probs, p, is_training()).to(kv.value.scalar_type()), kv.value);
  out = out.transpose(1, 2).reshape({query.size(0), query.size(1), options_.dim});
  return out_proj_(out);
}

torch::Tensor MultiheadAttentionImpl::forward(const torch::Tensor& query, const torch::Tensor& key_value,
                                              const torch::Tensor& key_mask, bool causal) {
  return attend(query, project_key_value(key_value), key_mask, causal);
}

}  // namespace pyramidion
