#include "pyramidion/models/summarization_model.h"

#include <torch/torch.h>

#include <cmath>
#include <stdexcept>

#include "pyramidion/models/pooler_factory.h"
#include "pyramidion/nn/sinusoidal_positions.h"
#include "pyramidion/nn/vocabulary_projection.h"
#include "pyramidion/ops/int8_linear.h"

namespace pyramidion {

SummarizationModelImpl::SummarizationModelImpl(const ModelConfig& config) : config_(config) {
  config_.validate();
  const int64_t dim = config_.d_model;
  embed_tokens_ = register_module(
      "embed_tokens",
      torch::nn::Embedding(torch::nn::EmbeddingOptions(config_.vocab_size, dim).padding_idx(config_.pad_id)));
  {
    torch::NoGradGuard no_grad;  // fairseq: N(0, dim^-1/2), padding row zero
    torch::nn::init::normal_(embed_tokens_->weight, 0.0, std::pow(static_cast<double>(dim), -0.5));
    embed_tokens_->weight[config_.pad_id].zero_();
  }
  if (!config_.tie_output_projection) {
    output_projection_ =
        register_module("output_projection", QuantizableLinear(dim, config_.vocab_size, /*bias=*/false));
    torch::NoGradGuard no_grad;
    torch::nn::init::normal_(output_projection_->weight, 0.0, std::pow(static_cast<double>(dim), -0.5));
  }
  if (config_.copy_attention)
    copy_gate_ = register_module("copy_gate", torch::nn::Linear(torch::nn::LinearOptions(3 * dim, 1)));
  const TransformerLayerOptions layer = config_.layer_options();
  encoder_layers_ = register_module("encoder_layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < config_.encoder_layers; ++i) {
    encoder_layer_list_.push_back(TransformerEncoderLayer(layer, config_.chunk_size));
    encoder_layers_->push_back(encoder_layer_list_.back());
  }
  for (const auto& [index, width] : config_.pooling.schedule) {
    // The module name (and so the weight names in model files) does not depend on the pooler type.
    poolers_.emplace(index, register_module("pooler_after_layer_" + std::to_string(index),
                                            make_pooler(config_.pooling, dim, width)));
  }
  decoder_layers_ = register_module("decoder_layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < config_.decoder_layers; ++i) {
    decoder_layer_list_.push_back(TransformerDecoderLayer(layer));
    decoder_layers_->push_back(decoder_layer_list_.back());
  }
  if (config_.normalize_before) {
    encoder_final_norm_ =
        register_module("encoder_final_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
    decoder_final_norm_ =
        register_module("decoder_final_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  }
}

int64_t SummarizationModelImpl::parameter_count() const {
  int64_t total = 0;
  for (const auto& p : parameters()) total += p.numel();
  return total;
}

int64_t SummarizationModelImpl::block_size(int64_t layer, int64_t input_length) const {
  return encoder_layer_list_.at(static_cast<size_t>(layer))->block_size(input_length);
}

torch::Tensor SummarizationModelImpl::embed_source(const torch::Tensor& source, const torch::Tensor& source_mask) {
  const double scale = config_.scale_embedding ? std::sqrt(static_cast<double>(config_.d_model)) : 1.0;
  torch::Tensor x = lookup_embeddings(source) * scale;
  x = x + document_positions(source_mask, config_.pad_id, config_.d_model, x.scalar_type());
  return torch::dropout(x, config_.dropout, is_training());
}

torch::Tensor SummarizationModelImpl::embed_target(const torch::Tensor& tokens, int64_t first_position) {
  const double scale = config_.scale_embedding ? std::sqrt(static_cast<double>(config_.d_model)) : 1.0;
  torch::Tensor x = lookup_embeddings(tokens) * scale;  // (batch, len, dim)
  // Target positions count from the first token (bos) regardless of padding: decoding is causal and padding
  // only ever follows the real tokens.
  torch::Tensor positions =
      torch::arange(first_position, first_position + tokens.size(1), tokens.options().dtype(torch::kLong)) +
      (config_.pad_id + 1);
  x = x + sinusoidal_embeddings(positions, config_.d_model, x.scalar_type()).unsqueeze(0);
  return torch::dropout(x, config_.dropout, is_training());
}

torch::Tensor SummarizationModelImpl::lookup_embeddings(const torch::Tensor& tokens) {
  if (!embed_scale_.defined()) return embed_tokens_(tokens);
  // int8 rows times their scales: the same numbers the int8 output projection multiplies with.
  const torch::Tensor flat = tokens.reshape({-1});
  torch::Tensor rows = embed_tokens_->weight.index_select(0, flat).to(torch::kFloat) *
                       embed_scale_.index_select(0, flat).unsqueeze(1);  // (tokens, dim)
  auto sizes = tokens.sizes().vec();
  sizes.push_back(config_.d_model);
  return rows.view(sizes);
}

void SummarizationModelImpl::embeddings_to_int8(const torch::Tensor& values, const torch::Tensor& scale) {
  torch::NoGradGuard no_grad;
  embed_tokens_->weight.set_requires_grad(false);  // an int8 tensor cannot require a gradient
  embed_tokens_->weight.set_data(values);
  embed_scale_ = embed_tokens_->register_buffer("weight_scale", scale);
}

void SummarizationModelImpl::quantize_int8() {
  if (is_int8()) return;
  for (const auto& module : modules())
    if (auto* linear = dynamic_cast<QuantizableLinearImpl*>(module.get())) linear->quantize();
  const Int8Rows q = quantize_rows(embed_tokens_->weight.detach());
  embeddings_to_int8(q.values, q.scale);
}

void SummarizationModelImpl::prepare_int8() {
  if (is_int8()) return;
  for (const auto& module : modules())
    if (auto* linear = dynamic_cast<QuantizableLinearImpl*>(module.get())) linear->prepare_int8();
  const torch::Tensor& w = embed_tokens_->weight;
  embeddings_to_int8(torch::zeros(w.sizes(), w.options().dtype(torch::kChar)),
                     torch::ones({w.size(0)}, w.options().dtype(torch::kFloat)));
}

bool SummarizationModelImpl::is_int8() const { return embed_scale_.defined(); }

torch::Tensor SummarizationModelImpl::project_output(const torch::Tensor& hidden) {
  if (output_projection_ && output_projection_->is_int8()) return output_projection_(hidden);
  if (!output_projection_ && embed_scale_.defined())
    return int8_linear(hidden, embed_tokens_->weight, embed_scale_, torch::Tensor());
  // Both projections are bias-free (vocab, dim) matrices: decode steps take the one-pass kernel.
  const torch::Tensor& weight = output_projection_ ? output_projection_->weight : embed_tokens_->weight;
  return project_to_vocabulary(hidden, weight.to(hidden.scalar_type()));
}

EncoderOutput SummarizationModelImpl::encode(const torch::Tensor& source, const torch::Tensor& source_mask) {
  TORCH_CHECK(source.dim() == 2 && source_mask.sizes() == source.sizes(),
              "encode: source and source_mask must both be (batch, src_len), got ", source.sizes(), " and ",
              source_mask.sizes());
  TORCH_CHECK(source_mask.scalar_type() == torch::kBool, "encode: source_mask must be bool");
  if (source.size(1) > config_.max_source_positions)
    throw std::invalid_argument("encode: source length " + std::to_string(source.size(1)) +
                                " exceeds max_source_positions " + std::to_string(config_.max_source_positions));
  {
    // Pooling groups documents by their real length, which needs right padding (true..true false..false).
    torch::Tensor lengths = source_mask.sum(1, /*keepdim=*/true);
    torch::Tensor prefix = torch::arange(source.size(1), lengths.options()).unsqueeze(0) < lengths;
    if (!torch::equal(prefix, source_mask))
      throw std::invalid_argument("encode: source_mask must be right-padded (real tokens first)");
  }
  EncoderOutput out;
  torch::Tensor mask = source_mask;
  // As fairseq: no key mask when no token is padding (the masked and unmasked softmax are the same numbers, the
  // mask only costs passes over every (query, key) logit). One host check per mask, not per layer.
  bool padded = !mask.all().item<bool>();
  torch::Tensor x = embed_source(source, mask);  // (batch, src_len, dim)
  SlotProvenance provenance;                     // copy attention: which source positions each state stands for
  if (config_.copy_attention) provenance = source_provenance(mask);
  for (int64_t i = 0; i < config_.encoder_layers; ++i) {
    x = encoder_layer_list_[static_cast<size_t>(i)](x, padded ? mask : torch::Tensor());
    auto pooler = poolers_.find(i);
    if (pooler != poolers_.end()) {
      PoolerOutput pooled = pooler->second->forward(x, mask, i);
      if (config_.copy_attention) provenance = pool_provenance(provenance, pooled.record);
      x = pooled.pooled.states;  // (batch, min(width, len), dim)
      if (padded) padded = !pooled.pooled.mask.all().item<bool>();
      mask = pooled.pooled.mask;
      out.pooling.push_back(std::move(pooled.record));
    }
  }
  if (encoder_final_norm_) x = encoder_final_norm_(x);
  out.states = padded ? x.masked_fill(mask.logical_not().unsqueeze(-1), 0) : x;
  out.mask = mask;
  if (config_.copy_attention) out.copy = copy_sources(provenance, source, config_.pad_id);
  return out;
}

torch::Tensor SummarizationModelImpl::run_decoder(const torch::Tensor& embedded, const EncoderOutput& memory,
                                                  CrossAttentionTap* tap) {
  const torch::Tensor memory_mask = memory.mask.all().item<bool>() ? torch::Tensor() : memory.mask;
  const auto alignment = static_cast<size_t>(config_.resolved_alignment_layer());
  torch::Tensor x = embedded;
  for (size_t i = 0; i < decoder_layer_list_.size(); ++i)
    x = decoder_layer_list_[i]->forward(x, memory.states, memory_mask, nullptr, i == alignment ? tap : nullptr);
  if (decoder_final_norm_) x = decoder_final_norm_(x);
  return x;
}

torch::Tensor SummarizationModelImpl::copy_probability(const torch::Tensor& state, const torch::Tensor& context,
                                                       const torch::Tensor& embedded) {
  return torch::sigmoid(copy_gate_(torch::cat({state, context, embedded}, -1)).to(torch::kFloat));
}

torch::Tensor SummarizationModelImpl::pointing(const torch::Tensor& weights) const {
  return weights.narrow(1, 0, config_.alignment_heads).mean(1);
}

torch::Tensor SummarizationModelImpl::decode(const torch::Tensor& target_in, const EncoderOutput& memory) {
  TORCH_CHECK(target_in.dim() == 2, "decode: target_in must be (batch, tgt_len), got ", target_in.sizes());
  if (target_in.size(1) > config_.max_target_positions)
    throw std::invalid_argument("decode: target length " + std::to_string(target_in.size(1)) +
                                " exceeds max_target_positions " + std::to_string(config_.max_target_positions));
  torch::Tensor embedded = embed_target(target_in, 0);  // (batch, tgt_len, dim)
  if (!config_.copy_attention) return project_output(run_decoder(embedded, memory, nullptr));
  if (!memory.copy.defined())
    throw std::invalid_argument("decode: a copy-attention model needs the memory's copy sources");
  CrossAttentionTap tap;
  torch::Tensor x = run_decoder(embedded, memory, &tap);
  return pointer_generator_log_probs(project_output(x), copy_probability(x, tap.context, embedded),
                                     pointing(tap.weights), memory.copy);
}

torch::Tensor SummarizationModelImpl::copy_gate(const torch::Tensor& target_in, const EncoderOutput& memory,
                                                torch::Tensor* attention) {
  if (!config_.copy_attention) throw std::logic_error("copy_gate: the model has no copy attention");
  TORCH_CHECK(target_in.dim() == 2, "copy_gate: target_in must be (batch, tgt_len), got ", target_in.sizes());
  torch::Tensor embedded = embed_target(target_in, 0);
  CrossAttentionTap tap;
  torch::Tensor x = run_decoder(embedded, memory, &tap);
  if (attention) *attention = pointing(tap.weights).to(torch::kFloat);
  return copy_probability(x, tap.context, embedded).squeeze(-1);
}

torch::Tensor SummarizationModelImpl::cross_attention(const torch::Tensor& target_in, const EncoderOutput& memory) {
  TORCH_CHECK(target_in.dim() == 2, "cross_attention: target_in must be (batch, tgt_len), got ", target_in.sizes());
  if (target_in.size(1) > config_.max_target_positions)
    throw std::invalid_argument("cross_attention: target length " + std::to_string(target_in.size(1)) +
                                " exceeds max_target_positions " + std::to_string(config_.max_target_positions));
  torch::Tensor x = embed_target(target_in, 0);
  std::vector<torch::Tensor> layers;
  for (auto& layer : decoder_layer_list_) {
    torch::Tensor weights;  // (batch, heads, tgt_len, memory_len)
    x = layer->forward(x, memory.states, memory.mask, &weights);
    layers.push_back(weights.to(torch::kFloat));
  }
  return torch::stack(layers, 1);
}

DecoderCache SummarizationModelImpl::start_decoding(const EncoderOutput& memory) {
  if (config_.copy_attention && !memory.copy.defined())
    throw std::invalid_argument("start_decoding: a copy-attention model needs the memory's copy sources");
  std::vector<DecoderLayerCache> layers;
  layers.reserve(decoder_layer_list_.size());
  for (auto& layer : decoder_layer_list_) layers.push_back(layer->start(memory.states));
  return DecoderCache(std::move(layers), memory.mask, config_.copy_attention ? memory.copy : CopySources{});
}

torch::Tensor SummarizationModelImpl::decode_step(const torch::Tensor& tokens, DecoderCache& cache) {
  TORCH_CHECK(tokens.dim() == 1 && tokens.size(0) == cache.batch_size(), "decode_step: tokens must be (",
              cache.batch_size(), "), got ", tokens.sizes());
  TORCH_CHECK(cache.memory_group() >= 1 && tokens.size(0) % cache.memory_group() == 0,
              "decode_step: memory group does not divide the rows");
  if (cache.length() >= config_.max_target_positions)
    throw std::invalid_argument("decode_step: position " + std::to_string(cache.length()) +
                                " exceeds max_target_positions " + std::to_string(config_.max_target_positions));
  const torch::Tensor embedded = embed_target(tokens.unsqueeze(1), cache.length());  // (batch, 1, dim)
  const auto alignment = static_cast<size_t>(config_.resolved_alignment_layer());
  CrossAttentionTap tap;
  torch::Tensor x = embedded;
  for (size_t i = 0; i < decoder_layer_list_.size(); ++i)
    x = decoder_layer_list_[i]->step(x, cache.layers()[i], cache.attention_mask(), cache.memory_group(),
                                     config_.copy_attention && i == alignment ? &tap : nullptr);
  if (decoder_final_norm_) x = decoder_final_norm_(x);
  cache.advance();
  if (!config_.copy_attention) return project_output(x).squeeze(1);
  // The rows of one memory row are its queries: (memory_rows, group, ...) for the copy distribution.
  const int64_t rows = tokens.size(0), group = cache.memory_group();
  auto grouped = [&](const torch::Tensor& t) { return t.reshape({rows / group, group, t.size(-1)}); };
  torch::Tensor log_probs =
      pointer_generator_log_probs(grouped(project_output(x)), grouped(copy_probability(x, tap.context, embedded)),
                                  pointing(tap.weights), cache.copy_sources());
  return log_probs.reshape({rows, -1});
}

torch::Tensor SummarizationModelImpl::forward(const torch::Tensor& source, const torch::Tensor& source_mask,
                                              const torch::Tensor& target_in) {
  return decode(target_in, encode(source, source_mask));
}

}  // namespace pyramidion
