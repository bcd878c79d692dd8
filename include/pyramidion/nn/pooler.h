#pragma once
// The interface of a pooling layer (states in, at most `width` states out) and what it reports. Pooler types are
// built from the model config by make_pooler (pyramidion/models/pooler_factory.h).
#include <torch/nn/module.h>
#include <torch/types.h>

#include <cstdint>

#include "pyramidion/ops/successive_halving_topk.h"

namespace pyramidion {

struct PooledSequence {
  torch::Tensor states;  // (batch, out_len, dim), out_len = min(width, in_len)
  torch::Tensor scores;  // (batch, out_len)
  torch::Tensor mask;    // (batch, out_len) bool, true = real
};

// What one pooling layer saw; kept in EncoderOutput for diagnostics and auxiliary losses.
struct PoolingRecord {
  int64_t layer = -1;  // encoder layer after which pooling ran
  int64_t width = 0;
  TopKOptions options;   // as applied (hard = true when hard top-k ran at inference)
  torch::Tensor scores;  // (batch, n_in) scorer output, sigmoid(logit) + 1e-5 (padding included; see mask)
  torch::Tensor mask;    // (batch, n_in) bool, the input mask
};

struct PoolerOutput {
  PooledSequence pooled;
  PoolingRecord record;
};

class PoolerImpl : public torch::nn::Module {
 public:
  ~PoolerImpl() override = default;

  // states (batch, n, dim), mask (batch, n) bool right-padded -> pooled (batch, min(width, n), dim) + record.
  // `layer` is the encoder layer after which the pooler runs (recorded for diagnostics).
  virtual PoolerOutput forward(const torch::Tensor& states, const torch::Tensor& mask, int64_t layer) = 0;
};

}  // namespace pyramidion
