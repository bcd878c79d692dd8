#pragma once
// Differentiable successive-halving top-k (Pietruszka et al., "Successive Halving Top-k Operator").
#include <torch/types.h>

#include <cstdint>

namespace pyramidion {

// The one sort_back default (TopKOptions, RepresentationPoolerOptions, PoolingConfig, the approximation benchmark):
// pooled representations stay in document order, as the Pyramidion model uses them.
constexpr bool kDefaultSortBack = true;

struct TopKOptions {
  double base = 20.0;                 // softmax over base^score inside each pair
  bool flip_right = true;             // pair i-th best with i-th worst (else with the (n/2+i)-th)
  bool sort_back = kDefaultSortBack;  // restore the winners' original order after every round
  bool hard = false;                  // exact top-k selection (for inference); no relaxation
};

struct TopKResult {
  torch::Tensor embeddings;  // (batch, k, dim)
  torch::Tensor scores;      // (batch, k)
};

// embeddings (batch, n, dim), scores (batch, n) in (0, 1]; optional mask (batch, n) bool, true = real token.
// Rounds R = ceil(log2(n / k)); the input is padded to k * 2^R with zero vectors of score 1e-5 (masked
// positions are treated the same way). Each round sorts by score (stable, descending), pairs the i-th of
// the top half with the i-th from the end of the bottom half (flip_right) and replaces each pair by its
// mix weighted softmax(base^score) over the pair; scores are mixed the same way.
// k >= n returns the (masked) input unchanged. Throws std::invalid_argument on bad shapes, k < 1, NaN.
TopKResult successive_halving_topk(const torch::Tensor& embeddings, const torch::Tensor& scores, int64_t k,
                                   const TopKOptions& options = {}, const torch::Tensor& mask = {});

// Number of halving rounds for n inputs and k outputs: ceil(log2(n / k)), 0 when k >= n.
int64_t successive_halving_rounds(int64_t n, int64_t k);

// Score given to padding and masked positions.
constexpr double kTopKPaddingScore = 1e-5;

}  // namespace pyramidion
