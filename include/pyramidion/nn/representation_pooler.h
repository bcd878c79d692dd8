#pragma once
// Trainable representation pooling: a scorer rates every representation and the successive-halving top-k
// keeps `width` (soft) mixtures of the best ones.
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include "pyramidion/nn/pooler.h"
#include "pyramidion/ops/successive_halving_topk.h"

namespace pyramidion {

// Top-k per document, independent of batch padding. mask must be right-padded (true then false).
// Documents whose real length L <= width pass through (their states, then padding). Longer ones are grouped by
// their round count R = ceil(log2(L / width)) and each group runs one successive_halving_topk on its documents
// cut/padded to width * 2^R, so a document's result never depends on the batch's padded length.
// embeddings (batch, n, dim), scores (batch, n), mask (batch, n) bool.
PooledSequence pool_documents(const torch::Tensor& embeddings, const torch::Tensor& scores, const torch::Tensor& mask,
                              int64_t width, const TopKOptions& options);

// Which inputs make up each pooled slot: re-runs the grouped top-k on identity vectors with the recorded (detached)
// scores. Returns (batch, out_len, n_in) mixing weights: pooled = weights @ inputs (padding inputs zeroed). A row
// sums to at most 1; the rest went to the zero vectors the operator pads with. Padding slots are zero rows.
// Memory: batch * n_in^2 elements.
torch::Tensor pooling_provenance(const PoolingRecord& record);

struct RepresentationPoolerOptions {
  int64_t dim = 512;
  int64_t width = 512;
  TopKOptions topk;                // defaults: base 20, flip_right, kDefaultSortBack, soft
  bool hard_at_inference = false;  // exact top-k in eval mode (the paper keeps the soft operator)
  double score_epsilon = 1e-5;     // keeps scores > 0
};

// The `topk` pooler type (registered in src/models/poolers/topk_pooler.cpp).
class RepresentationPoolerImpl : public PoolerImpl {
 public:
  explicit RepresentationPoolerImpl(const RepresentationPoolerOptions& options);

  // states (batch, n, dim), mask (batch, n) bool right-padded -> pooled (batch, min(width, n), dim) + record.
  PoolerOutput forward(const torch::Tensor& states, const torch::Tensor& mask, int64_t layer = -1) override;

  // states (batch, n, dim) -> scores (batch, n) = sigmoid(Linear(dim, 1)) + epsilon, float32 or wider.
  torch::Tensor score(const torch::Tensor& states);

  const RepresentationPoolerOptions& options() const { return options_; }

 private:
  RepresentationPoolerOptions options_;
  torch::nn::Linear scorer_{nullptr};
};
TORCH_MODULE(RepresentationPooler);

}  // namespace pyramidion
