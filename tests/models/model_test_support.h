#pragma once
// Tiny models for the model tests.
#include <torch/torch.h>

#include "pyramidion/models/summarization_model.h"
#include "tensor_checks.h"  // max_diff

namespace pyramidion::testing {

// 3+2 layers, d 16, blocks of 4, pooled after layer 0 to 8 and after layer 2 to 3.
inline ModelConfig tiny_config() {
  ModelConfig c;
  c.vocab_size = 40;
  c.d_model = 16;
  c.attention_heads = 2;
  c.ffn_dim = 24;
  c.encoder_layers = 3;
  c.decoder_layers = 2;
  c.chunk_size = 4;
  c.pooling.schedule = {{0, 8}, {2, 3}};
  c.max_source_positions = 64;
  c.max_target_positions = 16;
  return c;
}

inline SummarizationModel float64_model(const ModelConfig& config, uint64_t seed = 11) {
  torch::manual_seed(seed);
  SummarizationModel model(config);
  model->to(torch::kDouble);
  model->eval();
  return model;
}

// Random right-padded batch: tokens in [4, vocab), padding = pad_id.
struct Batch {
  torch::Tensor tokens;  // (batch, n)
  torch::Tensor mask;    // (batch, n)
};
inline Batch random_batch(const std::vector<int64_t>& lengths, int64_t n, int64_t vocab, int64_t pad_id = 0) {
  auto mask = torch::arange(n).unsqueeze(0) < torch::tensor(lengths).unsqueeze(1);
  auto tokens = torch::randint(4, vocab, {static_cast<int64_t>(lengths.size()), n}, torch::kLong);
  return {tokens.masked_fill(mask.logical_not(), pad_id), mask};
}

inline void copy_matching_parameters(torch::nn::Module& from, torch::nn::Module& to) {
  torch::NoGradGuard no_grad;
  auto source = from.named_parameters();
  for (auto& p : to.named_parameters())
    if (const auto* s = source.find(p.key())) p.value().copy_(*s);
}

}  // namespace pyramidion::testing
