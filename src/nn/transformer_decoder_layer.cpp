#include "pyramidion/nn/transformer_decoder_layer.h"

#include <torch/torch.h>

namespace pyramidion {

TransformerDecoderLayerImpl::TransformerDecoderLayerImpl(const TransformerLayerOptions& options) : options_(options) {
  MultiheadAttentionOptions attention{options.dim, options.heads, options.attention_dropout, options.attention_backend};
  auto norm = [&] { return torch::nn::LayerNorm(torch::nn::LayerNormOptions({options.dim})); };
  self_attn_ = register_module("self_attn", MultiheadAttention(attention));
  self_attn_norm_ = register_module("self_attn_norm", norm());
  cross_attn_ = register_module("cross_attn", MultiheadAttention(attention));
  cross_attn_norm_ = register_module("cross_attn_norm", norm());
  ffn_ = register_module("ffn", FeedForward(options));
  ffn_norm_ = register_module("ffn_norm", norm());
}

template <typename SelfAttention, typename CrossAttention>
torch::Tensor TransformerDecoderLayerImpl::body(const torch::Tensor& states, SelfAttention&& self_attention,
                                                CrossAttention&& cross_attention) {
  const bool pre = options_.normalize_before;
  auto sublayer = [&](const torch::Tensor& x, torch::nn::LayerNorm& norm, auto&& f) {
    torch::Tensor h = f(pre ? norm(x) : x);
    torch::Tensor y = x + torch::dropout(h, options_.dropout, is_training());
    return pre ? y : norm(y);
  };
  torch::Tensor x = sublayer(states, self_attn_norm_, self_attention);
  x = sublayer(x, cross_attn_norm_, cross_attention);
  return sublayer(x, ffn_norm_, [&](const torch::Tensor& h) { return ffn_(h); });
}

torch::Tensor TransformerDecoderLayerImpl::forward(const torch::Tensor& states, const torch::Tensor& memory,
                                                   const torch::Tensor& memory_mask, torch::Tensor* cross_attention,
                                                   CrossAttentionTap* tap) {
  return body(
      states, [&](const torch::Tensor& h) { return self_attn_(h, h, torch::Tensor(), /*causal=*/true); },
      [&](const torch::Tensor& h) {
        if (tap) {
          torch::Tensor out =
              cross_attn_->attend_with_weights(h, cross_attn_->project_key_value(memory), memory_mask, &tap->weights);
          if (cross_attention) *cross_attention = tap->weights.detach();
          tap->context = out;
          return out;
        }
        if (!cross_attention) return cross_attn_(h, memory, memory_mask);
        ProjectedKeyValue kv = cross_attn_->project_key_value(memory);
        *cross_attention = cross_attn_->attention_weights(h, kv, memory_mask);
        return cross_attn_->attend(h, kv, memory_mask);
      });
}

DecoderLayerCache TransformerDecoderLayerImpl::start(const torch::Tensor& memory) {
  ProjectedKeyValue kv = cross_attn_->project_key_value(memory);
  DecoderLayerCache cache;
  // Contiguous once here: as head-split views every step's attention matmul would copy them again.
  cache.cross_key = kv.key.contiguous();
  cache.cross_value = kv.value.contiguous();
  return cache;
}

torch::Tensor TransformerDecoderLayerImpl::step(const torch::Tensor& states, DecoderLayerCache& cache,
                                                const torch::Tensor& memory_mask, int64_t memory_group,
                                                CrossAttentionTap* tap) {
  auto self_attention = [&](const torch::Tensor& h) {
    ProjectedKeyValue kv = self_attn_->project_key_value(h);  // (batch, heads, 1, head_dim)
    cache.append_self(kv.key, kv.value);
    // The single query is the newest token: it may see every cached key, so no causal mask is needed.
    return self_attn_->attend(h, {cache.self_keys(), cache.self_values()}, torch::Tensor());
  };
  auto cross_attention = [&](const torch::Tensor& h) {
    const ProjectedKeyValue kv{cache.cross_key, cache.cross_value};
    // The beams of one document share its memory row: they are memory_group queries of one attention.
    const int64_t rows = h.size(0), dim = h.size(2);
    torch::Tensor grouped = memory_group == 1 ? h : h.reshape({rows / memory_group, memory_group, dim});
    torch::Tensor out = tap ? cross_attn_->attend_with_weights(grouped, kv, memory_mask, &tap->weights)
                            : cross_attn_->attend(grouped, kv, memory_mask);
    out = out.reshape({rows, 1, dim});
    if (tap) tap->context = out;
    return out;
  };
  return body(states, self_attention, cross_attention);
}

}  // namespace pyramidion
